// The EAX core against the test vectors published with the mode (Bellare, Rogaway, Wagner,
// "The EAX Mode of Operation", FSE 2004, appendix: AES-128, 16-byte nonces, with a header).
#include "codec/eax.hpp"
#include "support.hpp"

#include <cshelve/errors.hpp>

#include <doctest/doctest.h>

#include <string>

namespace {

using namespace cshelve::codec;
using cshelve::test::from_hex;
using cshelve::test::pseudo_random_bytes;
using cshelve::test::to_hex;

struct PublishedVector {
  const char* message;
  const char* key;
  const char* nonce;
  const char* header;
  const char* ciphertext_and_tag;  // as the paper prints it: ciphertext followed by the tag
};

const PublishedVector kPublished[] = {
    {"", "233952DEE4D5ED5F9B9C6D6FF80FF478", "62EC67F9C3A4A407FCB2A8C49031A8B3", "6BFB914FD07EAE6B",
     "E037830E8389F27B025A2D6527E79D01"},
    {"F7FB", "91945D3F4DCBEE0BF45EF52255F095A4", "BECAF043B0A23D843194BA972C66DEBD", "FA3BFD4806EB53FA",
     "19DD5C4C9331049D0BDAB0277408F67967E5"},
    {"1A47CB4933", "01F74AD64077F2E704C0F60ADA3DD523", "70C3DB4F0D26368400A10ED05D2BFF5E", "234A3463C1264AC6",
     "D851D5BAE03A59F238A23E39199DC9266626C40F80"},
    {"481C9E39B1", "D07CF6CBB7F313BDDE66B727AFD3C5E8", "8408DFFF3C1A2B1292DC199E46B7D617", "33CCE2EABFF5A79D",
     "632A9D131AD4C168A4225D8E1FF755939974A7BEDE"},
    {"40D0C07DA5E4", "35B6D0580005BBC12B0587124557D2C2", "FDB6B06676EEDC5C61D74276E1F8E816", "AEB96EAEBE2970E9",
     "071DFE16C675CB0677E536F73AFE6A14B74EE49844DD"},
    {"4DE3B35C3FC039245BD1FB7D", "BD8E6E11475E60B268784C38C62FEB22", "6EAC5C93072D8E8513F750935E46DA1B",
     "D4482D1CA78DCE0F", "835BB4F15D743E350E728414ABB8644FD6CCB86947C5E10590210A4F"},
    {"8B0A79306C9CE7ED99DAE4F87F8DD61636", "7C77D6E813BED5AC98BAA417477A2E7D", "1A8C98DCD73D38393B2BF1569DEEFC19",
     "65D2017990D62528", "02083E3979DA014812F59F11D52630DA30137327D10649B0AA6E1C181DB617D7F2"},
    {"1BDA122BCE8A8DBAF1877D962B8592DD2D56", "5FFF20CAFAB119CA2FC73549E20F5B0D", "DDE59B97D722156D4D9AFF2BC7559826",
     "54B9F04E6A09189A", "2EC47B2C4954A489AFC7BA4897EDCDAE8CC33B60450599BD02C96382902AEF7F832A"},
    {"6CF36720872B8513F6EAB1A8A44438D5EF11", "A4A4782BCFFD3EC5E7EF6D8C34A56123", "B781FCF2F75FA5A8DE97A9CA48E522EC",
     "899A175897561D7E", "0DE18FD0FDD91E7AF19F1D8EE8733938B1E8E7F6D2231618102FDB7FE55FF1991700"},
    {"CA40D7446E545FFAED3BD12A740A659FFBBB3CEAB7", "8395FCF1E95BEBD697BD010BC766AAC3",
     "22E7ADD93CFC6393C57EC0B3C17D6B44", "126735FCC320D25A",
     "CB8920F87A6C75CFF39627B56E3ED197C552D295A7CFC46AFC253B4652B1AF3795B124AB6E"},
};

const unsigned char* as_bytes(const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* as_bytes(std::string& s) { return reinterpret_cast<unsigned char*>(&s[0]); }

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

}  // namespace

TEST_CASE("EAX: the ten AES-128 vectors of Bellare, Rogaway and Wagner") {
  int checked = 0;
  for (const PublishedVector& vector : kPublished) {
    const std::string message = from_hex(vector.message);
    const std::string key = from_hex(vector.key);
    const std::string nonce = from_hex(vector.nonce);
    const std::string header = from_hex(vector.header);
    const std::string expected = lower(vector.ciphertext_and_tag);
    CAPTURE(vector.key);

    std::string ciphertext(message.size(), '\0');
    const eax::Tag tag = eax::encrypt(key, nonce, header, as_bytes(message), message.size(), as_bytes(ciphertext));
    const std::string tag_bytes(tag.begin(), tag.end());
    CHECK(to_hex(ciphertext) + to_hex(tag_bytes) == expected);

    std::string decrypted(message.size(), '\0');
    CHECK(eax::decrypt(key, nonce, header, as_bytes(ciphertext), ciphertext.size(), tag, as_bytes(decrypted)));
    CHECK(decrypted == message);

    // In place, both ways.
    std::string in_place = message;
    CHECK(eax::encrypt(key, nonce, header, as_bytes(in_place), in_place.size(), as_bytes(in_place)) == tag);
    CHECK(in_place == ciphertext);
    CHECK(eax::decrypt(key, nonce, header, as_bytes(in_place), in_place.size(), tag, as_bytes(in_place)));
    CHECK(in_place == message);

    // The header is authenticated: without it (as records use it), the tag no longer verifies.
    std::string unused(message.size(), '\0');
    CHECK_FALSE(eax::decrypt(key, nonce, {}, as_bytes(ciphertext), ciphertext.size(), tag, as_bytes(unused)));
    ++checked;
  }
  CHECK(checked == 10);
}

TEST_CASE("EAX: a tag that does not verify wipes the output and reports false") {
  const std::string key = "Sixteen byte key";
  const std::string nonce(16, '\x07');
  const std::string message = "attack at dawn, bring the pickles";
  std::string ciphertext(message.size(), '\0');
  const eax::Tag tag = eax::encrypt(key, nonce, {}, as_bytes(message), message.size(), as_bytes(ciphertext));

  SUBCASE("flipped ciphertext bit") {
    ciphertext[5] ^= 0x10;
    std::string out(message.size(), 'x');
    CHECK_FALSE(eax::decrypt(key, nonce, {}, as_bytes(ciphertext), ciphertext.size(), tag, as_bytes(out)));
    CHECK(out == std::string(message.size(), '\0'));
  }
  SUBCASE("flipped tag bit") {
    eax::Tag bad = tag;
    bad[15] ^= 0x80;
    std::string out(message.size(), 'x');
    CHECK_FALSE(eax::decrypt(key, nonce, {}, as_bytes(ciphertext), ciphertext.size(), bad, as_bytes(out)));
    CHECK(out == std::string(message.size(), '\0'));
  }
  SUBCASE("other nonce") {
    std::string out(message.size(), 'x');
    CHECK_FALSE(
        eax::decrypt(key, std::string(16, '\x08'), {}, as_bytes(ciphertext), ciphertext.size(), tag, as_bytes(out)));
  }
  SUBCASE("other key") {
    std::string out(message.size(), 'x');
    CHECK_FALSE(
        eax::decrypt("Sixteen byte kez", nonce, {}, as_bytes(ciphertext), ciphertext.size(), tag, as_bytes(out)));
  }
}

TEST_CASE("EAX: AES-192 and AES-256 keys, long and sliced messages") {
  for (const std::size_t key_size : {16U, 24U, 32U}) {
    const std::string key = pseudo_random_bytes(key_size, key_size);
    const std::string nonce = pseudo_random_bytes(16, 99);
    // Sizes around the 16-byte block and the 64 KiB slice boundaries.
    for (const std::size_t size : {0U, 1U, 15U, 16U, 17U, 65535U, 65536U, 65537U, 200000U}) {
      CAPTURE(key_size);
      CAPTURE(size);
      const std::string message = pseudo_random_bytes(size, size + 1);
      std::string ciphertext(size, '\0');
      const eax::Tag tag = eax::encrypt(key, nonce, {}, as_bytes(message), size, as_bytes(ciphertext));
      if (size > 16) CHECK(ciphertext != message);
      std::string out(size, '\0');
      CHECK(eax::decrypt(key, nonce, {}, as_bytes(ciphertext), size, tag, as_bytes(out)));
      CHECK(out == message);
    }
  }
  // Different key sizes give different ciphers.
  const std::string message = "same message";
  std::string c16(message.size(), '\0');
  std::string c32(message.size(), '\0');
  const std::string nonce(16, '\0');
  eax::encrypt(std::string(16, 'k'), nonce, {}, as_bytes(message), message.size(), as_bytes(c16));
  eax::encrypt(std::string(32, 'k'), nonce, {}, as_bytes(message), message.size(), as_bytes(c32));
  CHECK(c16 != c32);
}

TEST_CASE("EAX: a key of another size is refused without showing it") {
  const std::string key = "fifteen bytes!!";
  REQUIRE(key.size() == 15);
  const std::string message = "x";
  std::string out(1, '\0');
  try {
    eax::encrypt(key, std::string(16, '\0'), {}, as_bytes(message), 1, as_bytes(out));
    FAIL("no error for a 15-byte key");
  } catch (const cshelve::Error& error) {
    CHECK(std::string(error.what()).find(key) == std::string::npos);
  }
  CHECK_FALSE(eax::is_valid_key_size(0));
  CHECK_FALSE(eax::is_valid_key_size(20));
  CHECK(eax::is_valid_key_size(24));
}
