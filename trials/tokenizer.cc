#include "trials/tokenizer.h"

#include <algorithm>
#include <queue>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "common/files.h"
#include "trials/data_text.h"

namespace cs {

namespace {

// An open-addressing hash map from a piece's bytes to its id. The hash is
// FNV-1a, so the hashes of every prefix of a word come from one pass and the
// greedy longest-match search hashes each byte once. Keys view into the
// vocab's tokens, which outlive the table.
class PieceTable {
 public:
  static constexpr uint64_t kSeed = 14695981039346656037ull;
  static uint64_t Step(uint64_t hash, char byte) { return (hash ^ static_cast<unsigned char>(byte)) * 1099511628211ull; }
  static uint64_t Hash(std::string_view key) {
    uint64_t hash = kSeed;
    for (char c : key) hash = Step(hash, c);
    return hash;
  }

  // Inserts key -> id unless the key is already there (the first id wins).
  void Insert(std::string_view key, int32_t id) {
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    uint64_t hash = Hash(key);
    for (size_t i = Bucket(hash);; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot.id < 0) {
        slot = {hash, key, id};
        ++size_;
        return;
      }
      if (slot.hash == hash && slot.key == key) return;
    }
  }
  // The id of `key` whose Hash() is `hash`, or -1.
  int32_t Find(std::string_view key, uint64_t hash) const {
    if (slots_.empty()) return -1;
    for (size_t i = Bucket(hash);; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.id < 0) return -1;
      if (slot.hash == hash && slot.key == key) return slot.id;
    }
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    std::string_view key;
    int32_t id = -1;  // -1: empty.
  };
  size_t Bucket(uint64_t hash) const { return (hash * 0x9E3779B97F4A7C15ull) >> shift_; }
  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    int bits = 4;
    while ((size_t{1} << bits) < std::max<size_t>(16, old.size() * 2)) ++bits;
    slots_.assign(size_t{1} << bits, Slot());
    mask_ = slots_.size() - 1;
    shift_ = 64 - bits;
    size_ = 0;
    for (const Slot& slot : old) {
      if (slot.id >= 0) Insert(slot.key, slot.id);
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

}  // namespace

struct WordPieceTokenizer::Vocab {
  std::vector<std::string> tokens;
  // Whole-word tokens, and "##" continuation tokens keyed without the "##",
  // so matching a piece never builds a string. Keys view into `tokens`.
  PieceTable word_ids;
  PieceTable continuation_ids;
  int max_token_bytes = 0;  // bounds the greedy search.
  int pad_id = -1, unk_id = -1, cls_id = -1, sep_id = -1, mask_id = -1;
  CaseHandling case_handling = CaseHandling::kLowercase;
};

namespace {

constexpr char32_t kReplacementChar = 0xFFFD;

// Decodes one UTF-8 character at text[*pos] and advances *pos; malformed
// bytes decode to U+FFFD one byte at a time (and are then dropped, as BERT drops U+FFFD).
char32_t DecodeUtf8(std::string_view text, size_t* pos) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(*pos);
  if (lead < 0x80) {
    ++*pos;
    return lead;
  }
  int extra = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : -1;
  if (extra < 0 || lead >= 0xF8 || *pos + extra >= text.size()) {
    ++*pos;
    return kReplacementChar;
  }
  char32_t cp = lead & (0x3F >> extra);
  for (int i = 1; i <= extra; ++i) {
    unsigned char next = byte(*pos + i);
    if ((next & 0xC0) != 0x80) {
      ++*pos;
      return kReplacementChar;
    }
    cp = (cp << 6) | (next & 0x3F);
  }
  *pos += extra + 1;
  return cp;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Unicode Zs plus the ASCII whitespace BERT treats as spaces.
bool IsWhitespace(char32_t cp) {
  return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// Categories Cc and Cf (BERT removes them), except the whitespace above.
bool IsControl(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  return cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || cp == 0xAD || (cp >= 0x200B && cp <= 0x200F) ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2064) || cp == 0xFEFF;
}

// BERT: every non-alphanumeric ASCII symbol, plus Unicode category P. The
// non-ASCII ranges are the P characters of Latin-1, General Punctuation,
// CJK Symbols and the fullwidth forms (those text in these data sets uses).
bool IsPunctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
    return true;
  }
  if (cp < 0xA1) return false;
  if (cp == 0xA1 || cp == 0xA7 || cp == 0xAB || cp == 0xB6 || cp == 0xB7 || cp == 0xBB || cp == 0xBF) return true;
  if ((cp >= 0x2010 && cp <= 0x2027) || (cp >= 0x2030 && cp <= 0x2043) || (cp >= 0x2045 && cp <= 0x2051) ||
      (cp >= 0x2053 && cp <= 0x205E)) {
    return true;
  }
  if ((cp >= 0x3001 && cp <= 0x3003) || (cp >= 0x3008 && cp <= 0x3011) || (cp >= 0x3014 && cp <= 0x301F)) {
    return true;
  }
  return (cp >= 0xFF01 && cp <= 0xFF03) || (cp >= 0xFF05 && cp <= 0xFF0A) || (cp >= 0xFF0C && cp <= 0xFF0F) ||
         cp == 0xFF1A || cp == 0xFF1B || cp == 0xFF1F || cp == 0xFF20 || (cp >= 0xFF3B && cp <= 0xFF3D) ||
         cp == 0xFF3F || cp == 0xFF5B || cp == 0xFF5D;
}

// The CJK ideograph blocks BERT splits into single characters.
bool IsCjk(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
         (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// Category Mn in the blocks where NFD puts accents; removed when stripping.
bool IsCombiningMark(char32_t cp) {
  return (cp >= 0x300 && cp <= 0x36F) || (cp >= 0x1AB0 && cp <= 0x1AFF) || (cp >= 0x1DC0 && cp <= 0x1DFF) ||
         (cp >= 0x20D0 && cp <= 0x20FF) || (cp >= 0xFE20 && cp <= 0xFE2F);
}

char32_t ToLower(char32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  if ((cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)) return cp + 32;
  if (cp >= 0x100 && cp <= 0x17F) {
    if (cp == 0x130) return 'i';  // Python lowers İ to "i̇"; the dot is stripped as an accent anyway.
    if (cp == 0x178) return 0xFF;
    bool even_upper = (cp < 0x138) || (cp >= 0x14A && cp < 0x178);
    if (even_upper) return (cp % 2 == 0) ? cp + 1 : cp;
    bool odd_upper = (cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E);
    if (odd_upper) return (cp % 2 == 1) ? cp + 1 : cp;
    return cp;  // ĸ, ŉ, ſ have no upper/lower pair here.
  }
  if (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2) return cp + 32;  // Greek.
  if (cp >= 0x410 && cp <= 0x42F) return cp + 32;                  // Cyrillic.
  if (cp >= 0x400 && cp <= 0x40F) return cp + 80;
  return cp;
}

// NFD base letter of a lower-case Latin-1 / Latin Extended-A letter, or the
// letter itself when NFD does not decompose it (ø, đ, ħ, ł, ß ...).
char32_t StripAccent(char32_t cp) {
  if (cp < 0xE0 || cp > 0x17F) return cp;
  static const char kLatin1[] = "aaaaaa\0ceeeeiiii\0nooooo\0\0uuuuy\0y";  // 0xE0..0xFF
  if (cp <= 0xFF) {
    char base = kLatin1[cp - 0xE0];
    return base ? static_cast<char32_t>(base) : cp;
  }
  // 0x100..0x17F, upper and lower case alike.
  static const char kExtendedA[] =
      "aaaaaaccccccccdd\0\0eeeeeeeeeegggggggghh\0\0iiiiiiiii\0\0\0jjkk\0llllll\0\0\0"
      "\0nnnnnn\0\0\0oooooo\0\0rrrrrrsssssssstttt\0\0uuuuuuuuuuuuwwyyyzzzzzz\0";
  char base = kExtendedA[cp - 0x100];
  return base ? static_cast<char32_t>(base) : cp;
}

}  // namespace

template <typename Emit>
void WordPieceTokenizer::ForEachWord(std::string_view text, std::string* scratch, Emit&& emit) const {
  const bool lowercase = vocab_->case_handling == CaseHandling::kLowercase;
  scratch->clear();
  auto flush = [&]() {
    if (!scratch->empty()) {
      emit(std::string_view(*scratch));
      scratch->clear();
    }
  };
  size_t pos = 0;
  while (pos < text.size()) {
    unsigned char byte = static_cast<unsigned char>(text[pos]);
    if (byte < 0x80) {  // ASCII fast path: no decoding, no tables.
      ++pos;
      if ((byte >= 'a' && byte <= 'z') || (byte >= '0' && byte <= '9')) {
        scratch->push_back(static_cast<char>(byte));
      } else if (byte >= 'A' && byte <= 'Z') {
        scratch->push_back(static_cast<char>(lowercase ? byte + 32 : byte));
      } else if (IsWhitespace(byte) || IsControl(byte)) {
        // BERT removes control characters without splitting; spaces split.
        if (IsWhitespace(byte)) flush();
      } else if (IsPunctuation(byte)) {
        flush();
        scratch->push_back(static_cast<char>(byte));
        flush();
      } else {
        scratch->push_back(static_cast<char>(byte));
      }
      continue;
    }
    char32_t cp = DecodeUtf8(text, &pos);
    if (cp == kReplacementChar || IsControl(cp)) continue;
    if (IsWhitespace(cp)) {
      flush();
      continue;
    }
    if (IsPunctuation(cp) || IsCjk(cp)) {
      flush();
      AppendUtf8(cp, scratch);
      flush();
      continue;
    }
    if (lowercase) {
      if (IsCombiningMark(cp)) continue;
      cp = StripAccent(ToLower(cp));
    }
    AppendUtf8(cp, scratch);
  }
  flush();
}

void WordPieceTokenizer::AppendWordPieces(std::string_view word, std::vector<int32_t>* ids) const {
  const Vocab& vocab = *vocab_;
  int chars = 0;
  for (char c : word) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  if (chars > kMaxCharsPerWord) {
    ids->push_back(vocab.unk_id);
    return;
  }
  size_t first_piece = ids->size();
  // FNV-1a state after each prefix of word[start..]: one pass per piece.
  uint64_t prefix_hashes[4 * kMaxCharsPerWord + 1];
  size_t start = 0;
  while (start < word.size()) {
    const PieceTable& table = start == 0 ? vocab.word_ids : vocab.continuation_ids;
    const size_t limit = std::min(word.size(), start + static_cast<size_t>(vocab.max_token_bytes));
    uint64_t hash = PieceTable::kSeed;
    for (size_t end = start; end < limit; ++end) {
      hash = PieceTable::Step(hash, word[end]);
      prefix_hashes[end - start + 1] = hash;
    }
    int32_t found = -1;
    size_t end = limit;
    for (; end > start; --end) {
      // Only cut on character boundaries.
      if (end < word.size() && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) continue;
      found = table.Find(word.substr(start, end - start), prefix_hashes[end - start]);
      if (found >= 0) break;
    }
    if (found < 0) {  // No segmentation: the whole word is unknown, as in BERT.
      ids->resize(first_piece);
      ids->push_back(vocab.unk_id);
      return;
    }
    ids->push_back(found);
    start = end;
  }
}

Result<WordPieceTokenizer> WordPieceTokenizer::FromTokens(std::vector<std::string> tokens,
                                                          CaseHandling case_handling) {
  auto vocab = std::make_shared<Vocab>();
  vocab->tokens = std::move(tokens);
  vocab->case_handling = case_handling;
  for (size_t id = 0; id < vocab->tokens.size(); ++id) {
    std::string_view token = vocab->tokens[id];
    if (token.empty()) continue;
    vocab->max_token_bytes = std::max(vocab->max_token_bytes, static_cast<int>(token.size()));
    if (token.size() > 2 && token.substr(0, 2) == "##") {
      vocab->continuation_ids.Insert(token.substr(2), static_cast<int32_t>(id));
    } else {
      vocab->word_ids.Insert(token, static_cast<int32_t>(id));
    }
  }
  auto special = [&](const char* name) { return vocab->word_ids.Find(name, PieceTable::Hash(name)); };
  vocab->pad_id = special(kPadToken);
  vocab->unk_id = special(kUnkToken);
  vocab->cls_id = special(kClsToken);
  vocab->sep_id = special(kSepToken);
  vocab->mask_id = special(kMaskToken);
  std::string missing;
  for (const char* name : {kPadToken, kUnkToken, kClsToken, kSepToken}) {
    if (special(name) < 0) missing += (missing.empty() ? "" : ", ") + std::string(name);
  }
  if (!missing.empty()) return Status::InvalidArgument("vocab lacks the special tokens " + missing);
  return WordPieceTokenizer(std::move(vocab));
}

Result<WordPieceTokenizer> WordPieceTokenizer::LoadVocab(const std::string& path, CaseHandling case_handling) {
  Result<std::string> content = ReadFile(path);
  if (!content.ok()) return content.status();
  std::vector<std::string> tokens;
  ForEachLine(*content, [&](std::string_view line, int) { tokens.emplace_back(line); });
  Result<WordPieceTokenizer> tokenizer = FromTokens(std::move(tokens), case_handling);
  if (!tokenizer.ok()) return tokenizer.status().WithPrefix(path);
  return tokenizer;
}

CaseHandling WordPieceTokenizer::DetectCaseHandling(const std::vector<std::string>& tokens) {
  for (const std::string& token : tokens) {
    if (token.size() >= 2 && token.front() == '[' && token.back() == ']') continue;
    for (char c : token) {
      if (c >= 'A' && c <= 'Z') return CaseHandling::kKeepCase;
    }
  }
  return CaseHandling::kLowercase;
}

namespace {

std::string VocabFileContent(const std::vector<std::string>& tokens) {
  std::string content;
  for (const std::string& token : tokens) content += token + "\n";
  return content;
}

}  // namespace

Status WordPieceTokenizer::SaveVocab(const std::string& path) const {
  return WriteFileAtomic(path, VocabFileContent(vocab_->tokens));
}

std::string WordPieceTokenizer::VocabSha256() const { return Sha256OfString(VocabFileContent(vocab_->tokens)); }

std::vector<std::string> WordPieceTokenizer::BasicTokenize(std::string_view text) const {
  std::vector<std::string> words;
  std::string scratch;
  ForEachWord(text, &scratch, [&](std::string_view word) { words.emplace_back(word); });
  return words;
}

std::vector<int32_t> WordPieceTokenizer::Tokenize(std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 4);
  std::string scratch;
  ForEachWord(text, &scratch, [&](std::string_view word) { AppendWordPieces(word, &ids); });
  return ids;
}

std::vector<std::string> WordPieceTokenizer::TokenizeToStrings(std::string_view text) const {
  std::vector<std::string> pieces;
  for (int32_t id : Tokenize(text)) pieces.push_back(vocab_->tokens[id]);
  return pieces;
}

std::vector<int32_t> TruncateContent(const std::vector<int32_t>& content, int max_content, Truncation truncation) {
  size_t window = static_cast<size_t>(std::max(0, max_content));
  if (content.size() <= window) return content;
  if (truncation == Truncation::kHead) return std::vector<int32_t>(content.begin(), content.begin() + window);
  size_t head = window / 4;
  size_t tail = window - head;
  std::vector<int32_t> kept(content.begin(), content.begin() + head);
  kept.insert(kept.end(), content.end() - tail, content.end());
  return kept;
}

std::vector<int32_t> WordPieceTokenizer::Encode(std::string_view text, int max_seq_len, Truncation truncation) const {
  std::vector<int32_t> content = TruncateContent(Tokenize(text), max_seq_len - 2, truncation);
  std::vector<int32_t> ids;
  ids.reserve(content.size() + 2);
  ids.push_back(vocab_->cls_id);
  ids.insert(ids.end(), content.begin(), content.end());
  ids.push_back(vocab_->sep_id);
  return ids;
}

EncodedTexts WordPieceTokenizer::EncodePadded(const std::vector<std::string>& texts, int max_seq_len,
                                              Truncation truncation) const {
  EncodedTexts encoded;
  encoded.width = max_seq_len;
  encoded.ids.assign(texts.size() * static_cast<size_t>(max_seq_len), vocab_->pad_id);
  encoded.lengths.reserve(texts.size());
  for (size_t row = 0; row < texts.size(); ++row) {
    std::vector<int32_t> ids = Encode(texts[row], max_seq_len, truncation);
    std::copy(ids.begin(), ids.end(), encoded.ids.begin() + row * max_seq_len);
    encoded.lengths.push_back(static_cast<int32_t>(ids.size()));
  }
  return encoded;
}

int WordPieceTokenizer::vocab_size() const { return static_cast<int>(vocab_->tokens.size()); }
int WordPieceTokenizer::pad_id() const { return vocab_->pad_id; }
int WordPieceTokenizer::unk_id() const { return vocab_->unk_id; }
int WordPieceTokenizer::cls_id() const { return vocab_->cls_id; }
int WordPieceTokenizer::sep_id() const { return vocab_->sep_id; }
int WordPieceTokenizer::mask_id() const { return vocab_->mask_id; }
CaseHandling WordPieceTokenizer::case_handling() const { return vocab_->case_handling; }
const std::string& WordPieceTokenizer::TokenOf(int id) const { return vocab_->tokens.at(id); }
const std::vector<std::string>& WordPieceTokenizer::tokens() const { return vocab_->tokens; }

int WordPieceTokenizer::IdOf(std::string_view token) const {
  if (token.size() > 2 && token.substr(0, 2) == "##") {
    return vocab_->continuation_ids.Find(token.substr(2), PieceTable::Hash(token.substr(2)));
  }
  return vocab_->word_ids.Find(token, PieceTable::Hash(token));
}

// ---------------------------------------------------------------------------
// Vocab training: BPE-style merges over word counts (as HuggingFace's
// WordPiece trainer does), most frequent adjacent pair first.

namespace {

// One distinct word as a sequence of symbol ids, with its corpus count.
struct TrainingWord {
  std::vector<int32_t> symbols;
  int64_t count = 0;
};

uint64_t PairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// The characters of a UTF-8 word, each as its own string.
std::vector<std::string_view> SplitChars(std::string_view word) {
  std::vector<std::string_view> chars;
  size_t pos = 0;
  while (pos < word.size()) {
    size_t start = pos;
    ++pos;
    while (pos < word.size() && (static_cast<unsigned char>(word[pos]) & 0xC0) == 0x80) ++pos;
    chars.push_back(word.substr(start, pos - start));
  }
  return chars;
}

}  // namespace

Result<WordPieceTokenizer> TrainWordPieceVocab(const std::vector<std::string>& documents, int vocab_size,
                                               int min_frequency) {
  if (min_frequency < 1) min_frequency = 1;
  // 1. Count words with the same basic tokenization the result will use.
  Result<WordPieceTokenizer> basic =
      WordPieceTokenizer::FromTokens({kPadToken, kUnkToken, kClsToken, kSepToken, kMaskToken});
  if (!basic.ok()) return basic.status();
  std::unordered_map<std::string, int64_t> word_counts;
  for (const std::string& document : documents) {
    for (std::string& word : basic->BasicTokenize(document)) ++word_counts[std::move(word)];
  }
  // 2. The alphabet: characters seen at least min_frequency times.
  std::unordered_map<std::string, int64_t> char_counts;
  for (const auto& [word, count] : word_counts) {
    for (std::string_view c : SplitChars(word)) char_counts[std::string(c)] += count;
  }
  std::vector<std::string> alphabet;
  for (const auto& [c, count] : char_counts) {
    if (count >= min_frequency) alphabet.push_back(c);
  }
  std::sort(alphabet.begin(), alphabet.end());
  std::vector<std::string> symbols = {kPadToken, kUnkToken, kClsToken, kSepToken, kMaskToken};
  const size_t needed = symbols.size() + 2 * alphabet.size();
  if (vocab_size < static_cast<int>(needed)) {
    return Status::InvalidArgument("vocab_size " + std::to_string(vocab_size) + " cannot hold the 5 special tokens and " +
                                   std::to_string(alphabet.size()) + " characters in both forms (need " +
                                   std::to_string(needed) + ")");
  }
  std::unordered_map<std::string, int32_t> symbol_ids;
  auto add_symbol = [&](const std::string& symbol) {
    auto [it, inserted] = symbol_ids.emplace(symbol, static_cast<int32_t>(symbols.size()));
    if (inserted) symbols.push_back(symbol);
    return it->second;
  };
  for (const std::string& c : alphabet) add_symbol(c);
  for (const std::string& c : alphabet) add_symbol("##" + c);

  // 3. Words made of known characters, counted at least min_frequency times,
  //    in a fixed order so that the merges are deterministic.
  std::vector<std::pair<std::string, int64_t>> kept_words;
  for (const auto& [word, count] : word_counts) {
    if (count >= min_frequency && SplitChars(word).size() <= static_cast<size_t>(kMaxCharsPerWord)) {
      kept_words.emplace_back(word, count);
    }
  }
  std::sort(kept_words.begin(), kept_words.end());
  std::vector<TrainingWord> words;
  for (const auto& [word, count] : kept_words) {
    TrainingWord training;
    training.count = count;
    bool known = true;
    bool first = true;
    for (std::string_view c : SplitChars(word)) {
      auto it = symbol_ids.find(first ? std::string(c) : "##" + std::string(c));
      if (it == symbol_ids.end()) {
        known = false;
        break;
      }
      training.symbols.push_back(it->second);
      first = false;
    }
    if (known) words.push_back(std::move(training));
  }

  // 4. Pair counts and where each pair occurs.
  std::unordered_map<uint64_t, int64_t> pair_counts;
  std::unordered_map<uint64_t, std::unordered_set<int32_t>> pair_words;
  for (size_t w = 0; w < words.size(); ++w) {
    const auto& s = words[w].symbols;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      uint64_t key = PairKey(s[i], s[i + 1]);
      pair_counts[key] += words[w].count;
      pair_words[key].insert(static_cast<int32_t>(w));
    }
  }
  // Max-heap on (count, then the merged text smallest first) with lazy
  // invalidation: an entry whose count is stale is pushed again with the new one.
  struct Candidate {
    int64_t count;
    uint64_t key;
    std::string merged;
  };
  auto merged_text = [&](uint64_t key) {
    const std::string& right = symbols[static_cast<int32_t>(key & 0xFFFFFFFFu)];
    return symbols[static_cast<int32_t>(key >> 32)] + right.substr(right.rfind("##", 0) == 0 ? 2 : 0);
  };
  auto worse = [](const Candidate& a, const Candidate& b) {
    if (a.count != b.count) return a.count < b.count;
    return a.merged > b.merged;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(worse)> heap(worse);
  for (const auto& [key, count] : pair_counts) heap.push({count, key, merged_text(key)});

  while (static_cast<int>(symbols.size()) < vocab_size && !heap.empty()) {
    Candidate top = heap.top();
    heap.pop();
    auto current = pair_counts.find(top.key);
    int64_t count = current == pair_counts.end() ? 0 : current->second;
    if (count != top.count) {
      if (count > 0) heap.push({count, top.key, std::move(top.merged)});
      continue;
    }
    if (count < min_frequency) break;
    int32_t left = static_cast<int32_t>(top.key >> 32);
    int32_t right = static_cast<int32_t>(top.key & 0xFFFFFFFFu);
    int32_t merged = add_symbol(top.merged);
    // Replace the pair in every word holding it and update the neighbours' counts.
    std::vector<int32_t> holders(pair_words[top.key].begin(), pair_words[top.key].end());
    std::sort(holders.begin(), holders.end());
    std::unordered_map<uint64_t, int64_t> changed;
    for (int32_t w : holders) {
      TrainingWord& word = words[w];
      auto& s = word.symbols;
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        uint64_t key = PairKey(s[i], s[i + 1]);
        pair_counts[key] -= word.count;
        changed[key];
      }
      std::vector<int32_t> replaced;
      replaced.reserve(s.size());
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == left && s[i + 1] == right) {
          replaced.push_back(merged);
          ++i;
        } else {
          replaced.push_back(s[i]);
        }
      }
      s = std::move(replaced);
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        uint64_t key = PairKey(s[i], s[i + 1]);
        pair_counts[key] += word.count;
        pair_words[key].insert(w);
        changed[key];
      }
    }
    pair_words.erase(top.key);
    pair_counts.erase(top.key);
    for (const auto& [key, unused] : changed) {
      auto it = pair_counts.find(key);
      if (it == pair_counts.end()) continue;
      if (it->second <= 0) {
        pair_counts.erase(it);
        continue;
      }
      heap.push({it->second, key, merged_text(key)});
    }
  }
  return WordPieceTokenizer::FromTokens(std::move(symbols), CaseHandling::kLowercase);
}

}  // namespace cs
