#include <doctest/doctest.h>

#include "common/files.h"
#include "tests/testing/temp_dir.h"
#include "trials/tokenizer.h"

namespace cs {

namespace {

using Pieces = std::vector<std::string>;

// The vocab of BERT's own tokenization_test.py, plus [PAD], [MASK] and the
// pieces of its "unaffable" example.
WordPieceTokenizer BertTestTokenizer(CaseHandling case_handling = CaseHandling::kLowercase) {
  Result<WordPieceTokenizer> tokenizer = WordPieceTokenizer::FromTokens(
      {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "want", "##want", "##ed", "wa", "un", "runn", "##ing", ",",
       "low", "lowest", "##aff", "##able", "!", "?", "a", "##b", "##c"},
      case_handling);
  REQUIRE(tokenizer.ok());
  return *tokenizer;
}

}  // namespace

TEST_CASE("basic tokenization lowercases, strips accents and splits punctuation as BERT does") {
  WordPieceTokenizer tokenizer = BertTestTokenizer();
  CHECK(tokenizer.BasicTokenize(" \tHeLLo!how  \n Are yoU?  ") == Pieces{"hello", "!", "how", "are", "you", "?"});
  CHECK(tokenizer.BasicTokenize("H\u00E9llo") == Pieces{"hello"});
  CHECK(tokenizer.BasicTokenize("na\u00EFve Fran\u00E7ois \u0141\u00F3d\u017A") == Pieces{"naive", "francois", "\u0142odz"});
  CHECK(tokenizer.BasicTokenize("ah\u535A\u63A8zz") == Pieces{"ah", "\u535A", "\u63A8", "zz"});
  CHECK(tokenizer.BasicTokenize("it\u2019s \u201Cgreat\u201D\u2026") ==
        Pieces{"it", "\u2019", "s", "\u201C", "great", "\u201D", "\u2026"});
  // Control characters vanish without splitting; invalid UTF-8 is dropped.
  CHECK(tokenizer.BasicTokenize("ab\x01" "cd \xFF" "ef") == Pieces{"abcd", "ef"});
  CHECK(tokenizer.BasicTokenize("").empty());
}

TEST_CASE("cased vocabularies keep case and accents") {
  WordPieceTokenizer tokenizer = BertTestTokenizer(CaseHandling::kKeepCase);
  CHECK(tokenizer.BasicTokenize("HeLLo H\u00E9llo!") == Pieces{"HeLLo", "H\u00E9llo", "!"});
}

TEST_CASE("wordpiece matches the longest piece first and gives up on a word as a whole") {
  WordPieceTokenizer tokenizer = BertTestTokenizer();
  CHECK(tokenizer.TokenizeToStrings("unaffable") == Pieces{"un", "##aff", "##able"});
  CHECK(tokenizer.TokenizeToStrings("UNwant\u00E9d,running") == Pieces{"un", "##want", "##ed", ",", "runn", "##ing"});
  CHECK(tokenizer.TokenizeToStrings("unwantedX running") == Pieces{"[UNK]", "runn", "##ing"});
  CHECK(tokenizer.TokenizeToStrings("lowest low") == Pieces{"lowest", "low"});
  CHECK(tokenizer.TokenizeToStrings("abc") == Pieces{"a", "##b", "##c"});
  CHECK(tokenizer.TokenizeToStrings(std::string(100, 'a')).size() == 1);  // a ##a ... would be 100 pieces,
  CHECK(tokenizer.TokenizeToStrings(std::string(101, 'a')) == Pieces{"[UNK]"});  // but over 100 chars is [UNK].
  CHECK(tokenizer.Tokenize("want") == std::vector<int32_t>{tokenizer.IdOf("want")});
  CHECK(tokenizer.IdOf("##want") == 6);
  CHECK(tokenizer.IdOf("missing") == -1);
}

TEST_CASE("encoding adds [CLS] and [SEP] and truncates by head or head+tail") {
  std::vector<int32_t> content = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
  CHECK(TruncateContent(content, 8, Truncation::kHead) == std::vector<int32_t>{10, 11, 12, 13, 14, 15, 16, 17});
  // A quarter of the 8-id window from the start, three quarters from the end.
  CHECK(TruncateContent(content, 8, Truncation::kHeadTail) == std::vector<int32_t>{10, 11, 14, 15, 16, 17, 18, 19});
  CHECK(TruncateContent(content, 10, Truncation::kHeadTail) == content);
  CHECK(TruncateContent(content, 3, Truncation::kHeadTail) == std::vector<int32_t>{17, 18, 19});

  WordPieceTokenizer tokenizer = BertTestTokenizer();
  const int cls = tokenizer.cls_id(), sep = tokenizer.sep_id();
  const int want = tokenizer.IdOf("want"), low = tokenizer.IdOf("low"), wa = tokenizer.IdOf("wa");
  CHECK(tokenizer.Encode("want", 8, Truncation::kHead) == std::vector<int32_t>{cls, want, sep});
  CHECK(tokenizer.Encode("want low low low low wa", 6, Truncation::kHead) ==
        std::vector<int32_t>{cls, want, low, low, low, sep});
  CHECK(tokenizer.Encode("want low low low low wa", 6, Truncation::kHeadTail) ==
        std::vector<int32_t>{cls, want, low, low, wa, sep});

  EncodedTexts batch = tokenizer.EncodePadded({"want", "want low low low low wa"}, 5, Truncation::kHead);
  CHECK(batch.rows() == 2);
  CHECK(batch.lengths == std::vector<int32_t>{3, 5});
  CHECK(batch.ids == std::vector<int32_t>{cls, want, sep, 0, 0, cls, want, low, low, sep});
}

TEST_CASE("a vocab round-trips through vocab.txt and any BERT vocab loads by token name") {
  testing::TempDir dir;
  WordPieceTokenizer tokenizer = BertTestTokenizer();
  std::string path = dir.File("vocab.txt");
  REQUIRE(tokenizer.SaveVocab(path).ok());
  Result<WordPieceTokenizer> loaded = WordPieceTokenizer::LoadVocab(path);
  REQUIRE(loaded.ok());
  CHECK(loaded->tokens() == tokenizer.tokens());
  CHECK(loaded->VocabSha256() == Sha256OfFile(path).value());
  CHECK(loaded->TokenizeToStrings("unaffable running") == Pieces{"un", "##aff", "##able", "runn", "##ing"});

  // BERT's own layout: [PAD] first, [unused*], then [UNK]..[MASK]; CRLF lines.
  std::string bert = dir.Write("bert.txt", "[PAD]\r\n[unused0]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nthe\r\n##s\r\n");
  Result<WordPieceTokenizer> bert_vocab = WordPieceTokenizer::LoadVocab(bert);
  REQUIRE(bert_vocab.ok());
  CHECK(bert_vocab->unk_id() == 2);
  CHECK(bert_vocab->mask_id() == 5);
  CHECK(bert_vocab->Encode("The thes", 16, Truncation::kHead) == std::vector<int32_t>{3, 6, 6, 7, 4});
}

TEST_CASE("a vocab without the special tokens is refused by name") {
  testing::TempDir dir;
  Result<WordPieceTokenizer> loaded = WordPieceTokenizer::LoadVocab(dir.Write("vocab.txt", "[PAD]\nthe\n[SEP]\n"));
  REQUIRE(!loaded.ok());
  CHECK(loaded.status().message().find("vocab.txt") != std::string::npos);
  CHECK(loaded.status().message().find("[UNK], [CLS]") != std::string::npos);
  CHECK(WordPieceTokenizer::LoadVocab(dir.File("none.txt")).status().code() == Status::Code::kNotFound);
}

TEST_CASE("vocab training keeps the specials first and learns frequent words and suffixes") {
  std::vector<std::string> documents;
  for (int i = 0; i < 20; ++i) {
    documents.push_back("The movie was wonderful. Wonderful acting, wonderfully shot; the movies were playing.");
    documents.push_back("Playing and played: players play. The film was boring, the films bored me.");
  }
  Result<WordPieceTokenizer> trained = TrainWordPieceVocab(documents, 200, /*min_frequency=*/2);
  REQUIRE(trained.ok());
  CHECK(trained->vocab_size() <= 200);
  CHECK(trained->tokens()[0] == "[PAD]");
  CHECK(trained->tokens()[4] == "[MASK]");
  CHECK(trained->IdOf("the") > 4);
  CHECK(trained->TokenizeToStrings("wonderful") == Pieces{"wonderful"});
  CHECK(trained->TokenizeToStrings("movies") == Pieces{"movies"});
  // Nothing seen in training is unknown, even an unseen combination of its characters.
  for (const std::string& document : documents) {
    for (int32_t id : trained->Tokenize(document)) CHECK(id != trained->unk_id());
  }
  CHECK(trained->TokenizeToStrings("boringly") != Pieces{"[UNK]"});
  // Deterministic.
  CHECK(TrainWordPieceVocab(documents, 200, 2)->tokens() == trained->tokens());
  // Too small to hold the characters: a clear error.
  Result<WordPieceTokenizer> tiny = TrainWordPieceVocab(documents, 10, 2);
  REQUIRE(!tiny.ok());
  CHECK(tiny.status().message().find("vocab_size 10") != std::string::npos);
}

}  // namespace cs
