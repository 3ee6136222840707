# Bash completion for the cshelve command-line tool.
# Install: copy to /usr/share/bash-completion/completions/cshelve, or `source` it.
_cshelve() {
  local current=${COMP_WORDS[COMP_CWORD]}
  local previous=${COMP_WORDS[COMP_CWORD-1]}
  local commands="get set get-file set-file del has len keys import export"
  local options="-f --flag -p --param -v --verbose -q --quiet --writeback -h --help --version"

  case $previous in
    -f|--flag) COMPREPLY=($(compgen -W "r w c n" -- "$current")); return ;;
    -p|--param)
      COMPREPLY=($(compgen -W "endpoint_url= region_name= addressing_style= aws_session_token= verify=
                               connect_timeout= read_timeout= max_attempts= max_pool_connections=" -- "$current"))
      compopt -o nospace 2>/dev/null
      return ;;
    import|export) COMPREPLY=($(compgen -d -- "$current")); return ;;
  esac

  # Count the words that are neither options nor option values: PATH first, then COMMAND.
  local i positional=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      -f|--flag|-p|--param) ((i++)) ;;
      -*) ;;
      *) ((positional++)) ;;
    esac
  done

  # get and set take --json right after the command.
  if [[ $current == -* && $positional -eq 2 && ( $previous == get || $previous == set ) ]]; then
    COMPREPLY=($(compgen -W "--json" -- "$current"))
  elif [[ $current == -* && $positional -lt 2 ]]; then
    COMPREPLY=($(compgen -W "$options" -- "$current"))
  elif [[ $positional -eq 0 ]]; then
    COMPREPLY=($(compgen -f -- "$current"))
  elif [[ $positional -eq 1 ]]; then
    COMPREPLY=($(compgen -W "$commands" -- "$current"))
  fi
}
complete -F _cshelve cshelve
