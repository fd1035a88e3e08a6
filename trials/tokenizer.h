// WordPieceTokenizer: a BERT-compatible WordPiece tokenizer (reads and writes
// the `vocab.txt` format: one token per line, id = line number), and the
// training of a subword vocabulary from raw documents.
//
// Callers: the trial and pre-training code (encoding texts into ids), the
// `pretrain` command (training and saving a vocab), tests.
// Thread safety: a tokenizer is immutable once built; const methods may be
// called from any number of threads at once.
//
// Tokenization follows BERT's reference implementation (tokenization.py):
//  1. basic: drop control characters and U+FFFD, split CJK ideographs apart,
//     lowercase and strip accents (NFD, drop combining marks) when the case
//     handling is kLowercase, split on whitespace and on every punctuation
//     character (ASCII symbols count as punctuation, as in BERT);
//  2. WordPiece: greedy longest-match-first over each word, continuation
//     pieces carry the "##" prefix; a word with no segmentation, or longer
//     than kMaxCharsPerWord characters, becomes [UNK].
// Accent stripping decomposes Latin-1 Supplement and Latin Extended-A letters
// (the ones English text contains); other characters are kept as they are.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "trials/params.h"

namespace cs {

constexpr const char* kPadToken = "[PAD]";
constexpr const char* kUnkToken = "[UNK]";
constexpr const char* kClsToken = "[CLS]";
constexpr const char* kSepToken = "[SEP]";
constexpr const char* kMaskToken = "[MASK]";
// Words longer than this (in Unicode characters) become [UNK], as in BERT.
constexpr int kMaxCharsPerWord = 100;

// Whether the basic tokenizer lowercases and strips accents (BERT "uncased")
// or keeps the text as it is (BERT "cased").
enum class CaseHandling { kLowercase = 0, kKeepCase = 1 };

// Texts encoded to a fixed width, ready to become a [rows, width] tensor.
struct EncodedTexts {
  int width = 0;                // = max_seq_len.
  std::vector<int32_t> ids;     // rows * width, row-major, padded with [PAD].
  std::vector<int32_t> lengths; // real tokens per row incl. [CLS] and [SEP].
  int rows() const { return static_cast<int>(lengths.size()); }
};

class WordPieceTokenizer {
 public:
  // Builds a tokenizer whose token of id i is tokens[i]. The five special
  // tokens are looked up by name; [PAD], [UNK], [CLS] and [SEP] must exist
  // ([MASK] is needed only for masked-LM pre-training: mask_id() is -1 without it).
  // Duplicate tokens keep the first id, as BERT's loader does.
  static Result<WordPieceTokenizer> FromTokens(std::vector<std::string> tokens,
                                               CaseHandling case_handling = CaseHandling::kLowercase);
  // Reads a vocab.txt (any BERT vocab; a trailing "\r" on a line is dropped).
  static Result<WordPieceTokenizer> LoadVocab(const std::string& path,
                                              CaseHandling case_handling = CaseHandling::kLowercase);
  // The case handling a vocab was made for, as BERT's own vocabs tell it:
  // a "cased" vocab holds upper-case letters in its word pieces (bert-base-
  // cased has "The"), an "uncased" one never does. Special tokens in
  // brackets ([CLS], [unused0]) do not count.
  static CaseHandling DetectCaseHandling(const std::vector<std::string>& tokens);
  // Writes the vocab atomically, one token per line.
  Status SaveVocab(const std::string& path) const;

  // Step 1 alone: the words of `text` (lowercased etc. per the case handling).
  std::vector<std::string> BasicTokenize(std::string_view text) const;
  // Steps 1+2: the WordPiece ids of `text`, without [CLS]/[SEP], no limit on length.
  std::vector<int32_t> Tokenize(std::string_view text) const;
  // The same as token strings ("un", "##aff", "##able"), for tests and debugging.
  std::vector<std::string> TokenizeToStrings(std::string_view text) const;

  // [CLS] content [SEP], at most max_seq_len ids (max_seq_len >= 3). Content
  // longer than max_seq_len - 2 is cut by `truncation`: kHead keeps its start;
  // kHeadTail keeps the first quarter of the window (rounded down) and fills
  // the other three quarters from the end of the text. No padding.
  std::vector<int32_t> Encode(std::string_view text, int max_seq_len, Truncation truncation) const;
  // Encode() for many texts, padded to max_seq_len with [PAD].
  EncodedTexts EncodePadded(const std::vector<std::string>& texts, int max_seq_len,
                            Truncation truncation) const;

  int vocab_size() const;
  int pad_id() const;
  int unk_id() const;
  int cls_id() const;
  int sep_id() const;
  int mask_id() const;  // -1 when the vocab has no [MASK].
  CaseHandling case_handling() const;
  // The id of `token`, or -1.
  int IdOf(std::string_view token) const;
  const std::string& TokenOf(int id) const;
  const std::vector<std::string>& tokens() const;
  // sha256 of the vocab.txt this tokenizer would save: names the vocab in provenance JSON.
  std::string VocabSha256() const;

 private:
  struct Vocab;  // tokens, lookup maps, special ids (tokenizer.cc).
  explicit WordPieceTokenizer(std::shared_ptr<const Vocab> vocab) : vocab_(std::move(vocab)) {}
  // Calls emit(word) for each basic token; `scratch` holds the word being built.
  template <typename Emit>
  void ForEachWord(std::string_view text, std::string* scratch, Emit&& emit) const;
  // Appends the WordPiece ids of one basic-tokenized word.
  void AppendWordPieces(std::string_view word, std::vector<int32_t>* ids) const;
  // Shared and immutable, so copies are cheap and the maps' string_view keys
  // stay valid however the tokenizer is copied or moved.
  std::shared_ptr<const Vocab> vocab_;
};

// Cuts `content` (ids without [CLS]/[SEP]) to at most `max_content` ids, as
// Encode() does. Exposed for the trainer's own sequence building.
std::vector<int32_t> TruncateContent(const std::vector<int32_t>& content, int max_content,
                                     Truncation truncation);

// Trains a lowercase WordPiece vocab of at most `vocab_size` tokens from
// `documents`. Layout: [PAD] [UNK] [CLS] [SEP] [MASK], then every character
// seen at least `min_frequency` times (as a word start and as "##"
// continuation), then pieces merged by frequency (WordPiece/BPE-style pair
// merges over the word counts, most frequent pair first) until the size is
// reached. Fails when vocab_size cannot hold the specials and the characters.
// Deterministic: ties are broken by the pieces' text.
Result<WordPieceTokenizer> TrainWordPieceVocab(const std::vector<std::string>& documents, int vocab_size,
                                               int min_frequency);

}  // namespace cs
