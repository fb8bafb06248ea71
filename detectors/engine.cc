#include "detectors/engine.h"

#include <hs/hs.h>
#include <openssl/evp.h>
#include <re2/re2.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unordered_map>
#include <unordered_set>

#include "detectors/decoded_text.h"
#include "detectors/digit_runs.h"
#include "detectors/hyperscan_util.h"
#include "detectors/json_text.h"
#include "detectors/known_secrets.h"
#include "detectors/ocr_confusions.h"
#include "detectors/same_value.h"
#include "detectors/text_readers.h"
#include "detectors/validators.h"

namespace promptgate {
namespace {

struct HsDatabaseDeleter {
  void operator()(hs_database_t* db) const { hs_free_database(db); }
};
using HsDatabase = std::unique_ptr<hs_database_t, HsDatabaseDeleter>;

constexpr uint32_t kMinRetained = 4096;
constexpr uint32_t kDefaultMaxLength = 512;
// Bytes on each side of a secret the placeholder model looks at (`<`, `${`, `...`).
constexpr uint32_t kPeek = 3;

std::string where(const SourceLocation& w) {
  return w.file + ":" + std::to_string(w.line) + ": ";
}

RE2::Options re2_options() {
  RE2::Options o;
  o.set_encoding(RE2::Options::EncodingLatin1);  // bytes, as Hyperscan sees them
  o.set_log_errors(false);
  o.set_max_mem(16 << 20);
  return o;
}

struct Candidate {
  uint32_t rule;
  uint64_t end;
};

// Hyperscan expression ids index `expressions`; rules sharing a prefilter share an expression.
struct CandidateSink {
  const std::vector<std::vector<uint32_t>>* expressions;
  std::vector<Candidate>* out;
};

int collect_candidate(unsigned int id, unsigned long long /*from*/, unsigned long long to,
                      unsigned int /*flags*/, void* ctx) {
  auto* sink = static_cast<CandidateSink*>(ctx);
  auto& out = *sink->out;
  for (uint32_t rule : (*sink->expressions)[id])
    if (out.empty() || out.back().rule != rule || out.back().end != to) out.push_back({rule, to});
  return 0;
}

}  // namespace

std::string hyperscan_expression(const Rule& r) {
  if (r.digit_run) return {};
  if (r.anchor == Anchor::context && r.context) {
    std::string alt = "(?i)(?:";
    for (size_t i = 0; i < r.context->words.size(); ++i) {
      if (i) alt += "|";
      for (char ch : r.context->words[i]) {
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != ' ' && ch != '_') alt += '\\';
        alt += ch;
      }
    }
    return alt + ")";
  }
  return r.prefilter.empty() ? r.pattern : r.prefilter;
}

struct CompiledRule {
  Rule rule;
  std::unique_ptr<RE2> re;
  int secret_group = 0;  // capture group index of (?P<secret>...), 0 = whole match
  std::vector<Validator> validators;
  uint32_t width = 0;             // longest match
  uint32_t lookaround = 0;        // bytes needed on each side of a candidate's end to confirm it
  bool context_anchored = false;  // Hyperscan looks for the context words, RE2 for the rest
};

struct AllowPattern {
  std::string rule;
  std::unique_ptr<RE2> re;
};

struct RuleSet::Impl {
  std::vector<CompiledRule> rules;
  std::vector<std::vector<uint32_t>> expressions;      // Hyperscan expression id -> rule indexes
  DigitRunFinder digit_runs;                           // for rules with `digit_run`
  std::vector<std::vector<uint32_t>> digit_run_rules;  // digit-run spec -> rule indexes
  HsDatabase block_db;
  HsDatabase stream_db;
  size_t stream_state = 0;
  std::unordered_set<std::string> allowed_fingerprints;  // "fp" or "rule\0fp"
  std::vector<AllowPattern> allowed_patterns;
};

namespace {

// Candidates from the digit-run finder for the rules that use it. `text` starts at decoded
// offset `base`; hits must start at or after `from` and end after `report_after` (both relative
// to `text`).
void collect_digit_runs(const RuleSet::Impl& rules, std::string_view text, size_t from,
                        uint64_t base, uint64_t report_after, std::vector<DigitRunHit>& hits,
                        std::vector<Candidate>& out) {
  if (rules.digit_runs.empty()) return;
  hits.clear();
  rules.digit_runs.find(text, from, report_after, hits);
  for (const auto& h : hits)
    for (uint32_t rule : rules.digit_run_rules[h.spec]) out.push_back({rule, base + h.end});
}

}  // namespace

RuleSet::RuleSet() : impl_(std::make_unique<Impl>()) {}
RuleSet::~RuleSet() = default;
size_t RuleSet::size() const {
  return impl_->rules.size();
}
const Rule& RuleSet::rule(size_t i) const {
  return impl_->rules[i].rule;
}
size_t RuleSet::stream_state_bytes() const {
  return impl_->stream_state;
}

namespace {

std::string cache_key(const std::vector<const char*>& exprs, unsigned mode) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::string header = std::string(hs_version()) + "|" + std::to_string(mode) + "|";
  EVP_DigestUpdate(ctx, header.data(), header.size());
  for (const char* e : exprs) EVP_DigestUpdate(ctx, e, std::strlen(e) + 1);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < 16; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

HsDatabase load_cached(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return nullptr;
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  hs_database_t* db = nullptr;
  if (hs_deserialize_database(bytes.data(), bytes.size(), &db) != HS_SUCCESS) return nullptr;
  return HsDatabase(db);
}

void store_cached(const std::string& path, const hs_database_t* db) {
  char* bytes = nullptr;
  size_t len = 0;
  if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS) return;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(bytes, static_cast<std::streamsize>(len));
  }
  free(bytes);
  std::filesystem::rename(tmp, path, ec);  // atomic: concurrent writers are harmless
  if (ec) std::filesystem::remove(tmp, ec);
  // Keep the newest few databases (rule edits leave old ones behind).
  std::vector<std::pair<std::filesystem::file_time_type, std::filesystem::path>> entries;
  for (const auto& e :
       std::filesystem::directory_iterator(std::filesystem::path(path).parent_path(), ec))
    if (e.path().extension() == ".hsdb") entries.push_back({e.last_write_time(ec), e.path()});
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t i = 8; i < entries.size(); ++i) std::filesystem::remove(entries[i].second, ec);
}

}  // namespace

std::shared_ptr<const RuleSet> RuleSet::compile(RulePacks packs, const std::string& cache_dir) {
  std::shared_ptr<RuleSet> set(new RuleSet());
  Impl& impl = *set->impl_;
  std::unordered_set<std::string> disabled;
  for (auto& a : packs.allowlist) {
    if (!a.pattern.empty()) {
      auto re = std::make_unique<RE2>(a.pattern, re2_options());
      if (!re->ok()) throw RuleError(where(a.where) + "allowlist pattern: " + re->error());
      impl.allowed_patterns.push_back({a.rule, std::move(re)});
    } else if (!a.fingerprint.empty()) {
      impl.allowed_fingerprints.insert(a.rule.empty() ? a.fingerprint
                                                      : a.rule + '\0' + a.fingerprint);
    } else {
      disabled.insert(a.rule);
    }
  }

  uint32_t max_lookaround = 0;
  for (auto& r : packs.rules) {
    if (disabled.count(r.id)) continue;
    CompiledRule cr;
    hs_expr_info_t* info = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_expression_info(r.pattern.c_str(), 0, &info, &err) != HS_SUCCESS) {
      std::string msg = err->message;
      hs_free_compile_error(err);
      throw RuleError(where(r.where) + "rule '" + r.id +
                      "': Hyperscan rejects the pattern: " + msg);
    }
    if (!r.prefilter.empty()) {
      hs_expr_info_t* pinfo = nullptr;
      if (hs_expression_info(r.prefilter.c_str(), 0, &pinfo, &err) != HS_SUCCESS) {
        std::string msg = err->message;
        hs_free_compile_error(err);
        free(info);
        throw RuleError(where(r.where) + "rule '" + r.id +
                        "': Hyperscan rejects the prefilter: " + msg);
      }
      free(pinfo);
    }
    uint32_t max_width = info->max_width;
    bool unbounded = max_width == UINT_MAX;
    free(info);
    // An unbounded pattern (`\s*`, `+`) is confirmed within max_length bytes, 512 by default.
    cr.width = unbounded ? (r.max_length ? r.max_length : kDefaultMaxLength)
                         : (r.max_length ? std::min(max_width, r.max_length) : max_width);
    cr.width = std::max<uint32_t>(cr.width, 1);
    cr.re = std::make_unique<RE2>(r.pattern, re2_options());
    if (!cr.re->ok())
      throw RuleError(where(r.where) + "rule '" + r.id +
                      "': RE2 rejects the pattern: " + cr.re->error());
    auto groups = cr.re->NamedCapturingGroups();
    if (auto it = groups.find("secret"); it != groups.end()) cr.secret_group = it->second;
    for (const auto& v : r.validators) cr.validators.push_back(find_validator(v));
    cr.context_anchored = r.anchor == Anchor::context;
    uint32_t longest_word = 0;
    if (r.context)
      for (const auto& w : r.context->words)
        longest_word = std::max<uint32_t>(longest_word, static_cast<uint32_t>(w.size()));
    cr.lookaround = cr.width + kPeek +
                    (r.context ? r.context->within + (cr.context_anchored ? longest_word : 0) : 0);
    max_lookaround = std::max(max_lookaround, cr.lookaround);
    cr.rule = std::move(r);
    impl.rules.push_back(std::move(cr));
  }
  set->max_lookbehind_ = std::max<uint32_t>(kMinRetained, 2 * max_lookaround);

  std::vector<const char*> exprs;
  std::vector<unsigned> flags, ids;
  std::unordered_map<std::string, uint32_t> expression_of;
  std::vector<DigitRunSpec> digit_specs;
  for (size_t i = 0; i < impl.rules.size(); ++i) {
    if (const auto& dr = impl.rules[i].rule.digit_run) {
      auto it = std::find(digit_specs.begin(), digit_specs.end(), *dr);
      if (it == digit_specs.end()) {
        digit_specs.push_back(*dr);
        impl.digit_run_rules.emplace_back();
        it = digit_specs.end() - 1;
      }
      impl.digit_run_rules[static_cast<size_t>(it - digit_specs.begin())].push_back(
          static_cast<uint32_t>(i));
      continue;
    }
    // unordered_map nodes are stable: exprs may point into the keys.
    auto [it, fresh] = expression_of.emplace(hyperscan_expression(impl.rules[i].rule),
                                             static_cast<uint32_t>(exprs.size()));
    if (fresh) {
      exprs.push_back(it->first.c_str());
      flags.push_back(0);
      ids.push_back(it->second);
      impl.expressions.emplace_back();
    }
    impl.expressions[it->second].push_back(static_cast<uint32_t>(i));
  }
  impl.digit_runs = DigitRunFinder(std::move(digit_specs));
  set->max_lookbehind_ = std::max(set->max_lookbehind_, impl.digit_runs.reach());
  if (exprs.empty()) return set;
  auto compile_mode = [&](unsigned mode, HsDatabase& out) {
    std::string cached;
    if (!cache_dir.empty()) {
      cached = cache_dir + "/" + cache_key(exprs, mode) + ".hsdb";
      if ((out = load_cached(cached))) return;
    }
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(exprs.size()), mode, nullptr, &db,
                         &err) != HS_SUCCESS) {
      std::string msg = err->message;
      int bad = err->expression;
      hs_free_compile_error(err);
      if (bad >= 0) {
        const Rule& r = impl.rules[impl.expressions[static_cast<size_t>(bad)].front()].rule;
        throw RuleError(where(r.where) + "rule '" + r.id + "': Hyperscan: " + msg);
      }
      throw RuleError("Hyperscan cannot compile the rule set: " + msg);
    }
    out.reset(db);
    if (!cached.empty()) store_cached(cached, db);
  };
  compile_mode(HS_MODE_BLOCK, impl.block_db);
  compile_mode(HS_MODE_STREAM, impl.stream_db);
  if (hs_error_t rc = hs_stream_size(impl.stream_db.get(), &impl.stream_state); rc != HS_SUCCESS)
    throw_hs_error("hs_stream_size", rc);
  return set;
}

// ---------------------------------------------------------------------------------------------
// Confirm stage: shared by block and stream mode.

namespace {

class Confirmer {
 public:
  Confirmer(const RuleSet::Impl& rules, const FingerprintKey& key, bool ocr = false)
      : rules_(rules), key_(key), examined_until_(rules.rules.size(), 0), ocr_(ocr) {}

  // Confirms one candidate against the retained text; appends the findings that hold.
  void confirm(const Candidate& c, const DecodedText& text, std::vector<Finding>& out) {
    const CompiledRule& cr = rules_.rules[c.rule];
    uint64_t& examined = examined_until_[c.rule];
    if (!cr.context_anchored && c.end <= examined) return;
    // The candidate ends at c.end; a match around it lies within the rule's width (for a
    // context-anchored rule, c.end is the end of a context word and the match lies within
    // `within` bytes of it).
    uint64_t reach = cr.context_anchored ? cr.lookaround : cr.width;
    uint64_t lo = std::max(text.begin(), c.end > reach ? c.end - reach : 0);
    uint64_t hi = std::min(text.end(), c.end + reach);
    std::string_view all = text.view();
    const uint64_t base = text.begin();
    std::array<re2::StringPiece, 16> groups;
    int ngroups = std::min<int>(cr.secret_group + 1, static_cast<int>(groups.size()));
    size_t pos = lo - base;
    if (!cr.context_anchored) examined = c.end;
    while (pos <= hi - base) {
      if (!cr.re->Match(re2::StringPiece(all.data(), all.size()), pos, hi - base, RE2::UNANCHORED,
                        groups.data(), ngroups))
        break;
      uint64_t s = base + static_cast<uint64_t>(groups[0].data() - all.data());
      uint64_t e = s + groups[0].size();
      pos = (e > s ? e : s + 1) - base;
      if (cr.context_anchored) {
        accept(cr, groups, ngroups, text, out);
        continue;
      }
      if (s >= c.end) break;
      if (e >= c.end && e > s) {  // the match Hyperscan reported
        examined = e;
        accept(cr, groups, ngroups, text, out);
        break;
      }
    }
  }

  // Runs the confirmers on one exact match and records it as a finding if they all hold.
  void accept(const CompiledRule& cr, const std::array<re2::StringPiece, 16>& groups, int ngroups,
              const DecodedText& text, std::vector<Finding>& out) {
    std::string_view all = text.view();
    const uint64_t base = text.begin();
    const re2::StringPiece& sp =
        (cr.secret_group > 0 && cr.secret_group < ngroups && groups[cr.secret_group].data())
            ? groups[cr.secret_group]
            : groups[0];
    uint64_t ss = base + static_cast<uint64_t>(sp.data() - all.data());
    uint64_t se = ss + sp.size();
    if (se <= ss) return;
    // A secret never spans two JSON values: keep the part in the value where it ends.
    size_t seg = text.segment_at(se - 1);
    ss = std::max(ss, text.segment(seg).dec_start);
    se = std::min(se, text.content_end(seg));
    if (text.segment(seg).kind == SegmentKind::separator || se <= ss) return;
    if (!reportable(text, seg, ss, se)) return;
    std::string_view secret = text.slice(ss, se);

    const Rule& r = cr.rule;
    std::string corrected;  // the value with OCR's confusions undone
    for (Validator v : cr.validators) {
      if (v(secret)) continue;
      if (!ocr_ ||
          !undo_ocr_confusions(secret, cr.validators.data(), cr.validators.size(), corrected))
        return;
      secret = corrected;
      break;
    }
    if (r.min_entropy > 0 && shannon_entropy(secret) < r.min_entropy) return;
    if (r.not_placeholder && placeholder_near(text, seg, ss, se, secret)) return;
    if (r.context && !context_present(*r.context, text, ss, se)) return;
    for (const auto& a : rules_.allowed_patterns)
      if ((a.rule.empty() || a.rule == r.id) &&
          RE2::PartialMatch(re2::StringPiece(secret.data(), secret.size()), *a.re))
        return;
    std::string fp = key_.fingerprint(secret);
    if (!rules_.allowed_fingerprints.empty() &&
        (rules_.allowed_fingerprints.count(fp) ||
         rules_.allowed_fingerprints.count(r.id + '\0' + fp)))
      return;

    out.push_back(
        located(Finding{r.id, r.category, r.severity, r.action}, text, seg, ss, se, std::move(fp)));
    out.back().read_by_ocr = ocr_;
    out.back().ocr_corrected = !corrected.empty();
  }

  uint32_t lookaround(const Candidate& c) const { return rules_.rules[c.rule].lookaround; }

  // The placeholder model sees the value and a few bytes on each side of it in the same JSON
  // value (`<your-key>`, `sk-...`, `${TOKEN}`).
  static bool placeholder_near(const DecodedText& text, size_t seg, uint64_t ss, uint64_t se,
                               std::string_view secret) {
    uint64_t lo = std::max<uint64_t>(text.segment(seg).dec_start, ss > kPeek ? ss - kPeek : 0);
    uint64_t hi = std::min<uint64_t>(text.content_end(seg), se + kPeek);
    lo = std::max(lo, text.begin());
    hi = std::min(hi, text.end());
    return placeholder_in_context(text.slice(lo, std::max(lo, ss)), secret,
                                  text.slice(std::min(se, hi), hi));
  }

  // Joined text reports only what crosses from one block into another: the rest is each
  // block's own to find.
  static bool reportable(const DecodedText& text, size_t seg, uint64_t ss, uint64_t se) {
    const Segment& sg = text.segment(seg);
    if (sg.kind != SegmentKind::derived || (sg.via & 0xF) != kViaJoined) return true;
    DerivedSpan d = text.derived_span(seg, ss, se);
    return d.first_node != d.last_node;
  }

  // Where a confirmed secret [ss, se) of segment `seg` sits in the raw input, and its path.
  static Finding located(Finding f, const DecodedText& text, size_t seg, uint64_t ss, uint64_t se,
                         std::string fingerprint) {
    const Segment& sg = text.segment(seg);
    f.length = static_cast<uint32_t>(se - ss);
    f.fingerprint = std::move(fingerprint);
    if (sg.kind == SegmentKind::derived) {
      DerivedSpan d = text.derived_span(seg, ss, se);
      f.derived = true;
      f.start = d.parts.front().begin;
      f.end = d.parts.back().end;
      if (d.parts.size() > 1) f.parts = std::move(d.parts);
      f.location = text.location(d.first_node);
      if (d.last_node != d.first_node) f.location += ".." + text.location(d.last_node);
      std::string via = DecodedText::via_suffix(sg.via);
      f.location += f.location.empty() && !via.empty() ? via.substr(1) : via;
      return f;
    }
    auto [rs, re] = text.raw_span(seg, ss, se);
    f.start = rs;
    f.end = re;
    f.location = text.location(sg.node);
    if (sg.kind == SegmentKind::base64_document) {
      f.in_base64 = true;
      f.container_start = sg.raw_start;
      f.inner_start = ss - sg.dec_start;
      f.inner_end = se - sg.dec_start;
    }
    return f;
  }

  // The organisation's known secrets in the decoded text (see known_secrets.h). Matches that end
  // at or before `done` were decided in an earlier round; unless `final`, a match ending at the
  // text's end waits for the next byte (it may continue). Returns the new `done`.
  uint64_t known_secrets(const KnownSecrets& known, const DecodedText& text, uint64_t done,
                         bool final, std::vector<KnownSecretMatch>& hits,
                         std::vector<Finding>& out) {
    const uint64_t reach = known.max_length() + 1;
    uint64_t lo = std::max(text.begin(), done > reach ? done - reach : 0);
    hits.clear();
    known.find(text.slice(lo, text.end()), hits);
    for (const auto& m : hits) {
      uint64_t ss = lo + m.start, se = lo + m.end;
      if (se <= done || (!final && se >= text.end())) continue;
      if (ss == lo && lo > 0) continue;  // the byte before it was not in view
      size_t seg = text.segment_at(se - 1);
      const Segment& sg = text.segment(seg);
      // Whole values only: never across two JSON values or a separator.
      if (sg.kind == SegmentKind::separator || ss < sg.dec_start || se > text.content_end(seg))
        continue;
      if (!reportable(text, seg, ss, se)) continue;
      std::string_view secret = text.slice(ss, se);
      std::string fp = key_.fingerprint(secret);
      const std::string& label = known.label(m.entry);
      std::string rule_id = label.empty() ? "known-secret" : "known-secret:" + label;
      if (rules_.allowed_fingerprints.count(fp) ||
          rules_.allowed_fingerprints.count(rule_id + '\0' + fp))
        continue;
      out.push_back(located(
          Finding{std::move(rule_id), Category::credential, Severity::critical, Action::block},
          text, seg, ss, se, std::move(fp)));
    }
    return final ? text.end() : std::max(done, text.end() > 0 ? text.end() - 1 : 0);
  }

 private:
  static bool context_present(const ContextRequirement& ctx, const DecodedText& text, uint64_t ss,
                              uint64_t se) {
    uint64_t lo = std::max(text.begin(), ss > ctx.within ? ss - ctx.within : 0);
    uint64_t hi = std::min(text.end(), se + ctx.within);
    std::string_view window = text.slice(lo, hi);
    // Words are stored lower-case; compare without copying the window.
    auto same = [](char a, char b) { return kLower[static_cast<unsigned char>(a)] == b; };
    for (const auto& w : ctx.words)
      if (std::search(window.begin(), window.end(), w.begin(), w.end(), same) != window.end())
        return true;
    return false;
  }

  static constexpr std::array<char, 256> kLower = [] {
    std::array<char, 256> t{};
    for (int i = 0; i < 256; ++i)
      t[static_cast<size_t>(i)] = static_cast<char>(i >= 'A' && i <= 'Z' ? i + 32 : i);
    return t;
  }();

  const RuleSet::Impl& rules_;
  const FingerprintKey& key_;
  std::vector<uint64_t> examined_until_;
  bool ocr_ = false;  // the text was read by OCR
};

// One finding per value and place (same_value.h): the most specific rule names it, the others
// ride along; a value found directly and in derived text (a reader's window repeats the text
// around what it changed) is one finding too, the direct one.
void finalize(ScanResult& r, const RuleSet::Impl& rules) {
  merge_same_value(r.findings, [&rules](std::string_view id) {
    for (const auto& cr : rules.rules)
      if (cr.rule.id == id)
        return RuleTraits{cr.secret_group == 0 && !cr.rule.context, !cr.validators.empty()};
    return RuleTraits{};
  });
}

size_t first_non_space(std::string_view input) {
  size_t i = input.starts_with("\xEF\xBB\xBF") ? 3 : 0;  // a UTF-8 byte order mark
  while (i < input.size() &&
         (input[i] == ' ' || input[i] == '\n' || input[i] == '\r' || input[i] == '\t'))
    ++i;
  return i;
}

// JSON documents that carry text start with an object or an array.
bool looks_like_json(std::string_view input) {
  size_t i = first_non_space(input);
  return i < input.size() && (input[i] == '{' || input[i] == '[');
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct Scanner::Impl {
  FingerprintKey key;
  std::shared_ptr<const KnownSecrets> known;
  std::vector<KnownSecretMatch> known_hits;
  HsScratch scratch;
  DecodedText text;  // reused between block scans
  std::vector<Candidate> candidates;
  std::vector<DigitRunHit> digit_hits;
  // Decoded-text buffers of finished streams, so the next stream starts at their size instead
  // of growing (and copying) from nothing. A few, each at most 1 MiB: they keep earlier
  // requests' decoded text (in this process only) until the next stream overwrites it.
  static constexpr size_t kSpareTexts = 8;
  static constexpr size_t kMaxSpareTextBytes = 1u << 20;
  static constexpr size_t kMaxKeptScanTextBytes = 16u << 20;
  std::vector<DecodedText> spare_texts;
  AttachmentLimits attachment_limits;
};

Scanner::Scanner(std::shared_ptr<const RuleSet> rules, FingerprintKey key)
    : rules_(std::move(rules)), impl_(std::make_shared<Impl>()) {
  impl_->key = key;
  impl_->spare_texts.reserve(Impl::kSpareTexts);  // a stream's destructor only moves into it
  const auto& ri = *rules_->impl_;
  if (ri.block_db) alloc_scratch(impl_->scratch, ri.block_db.get());
  if (ri.stream_db) alloc_scratch(impl_->scratch, ri.stream_db.get());
}

Scanner::~Scanner() = default;

void Scanner::set_known_secrets(std::shared_ptr<const KnownSecrets> known) {
  impl_->known = std::move(known);
}

void Scanner::set_attachment_limits(const AttachmentLimits& limits) {
  impl_->attachment_limits = limits;
}

const AttachmentLimits& Scanner::attachment_limits() const {
  return impl_->attachment_limits;
}

ScanResult Scanner::scan(std::string_view input, InputFormat format) {
  return scan_block(input, format, {}, false);
}

ScanResult Scanner::scan(std::string_view input, InputFormat format,
                         std::vector<RawRange> skip_values) {
  return scan_block(input, format, std::move(skip_values), false);
}

ScanResult Scanner::scan_extracted(std::string_view text, bool ocr) {
  return scan_block(text, InputFormat::text, {}, ocr);
}

ScanResult Scanner::scan_block(std::string_view input, InputFormat format,
                               std::vector<RawRange> skip_values, bool ocr) {
  ScanResult result;
  result.raw_bytes = input.size();
  DecodedText& text = impl_->text;
  text.reset();
  bool as_json =
      format == InputFormat::json || (format == InputFormat::automatic && looks_like_json(input));
  if (as_json) {
    JsonTextExtractor json(text);
    if (!skip_values.empty()) json.skip_values(std::move(skip_values));
    json.collect_attachments(impl_->attachment_limits, &result.attachments);
    if (!json.feed(input) || !json.finish()) {
      if (format == InputFormat::automatic) {
        text.reset();
        result.attachments.clear();
        as_json = false;
      } else {
        result.error = json.error();
      }
    } else {
      result.error = json.reader_error();
    }
  }
  if (!as_json) {
    TextReaders readers(text);
    text.begin_segment(SegmentKind::text, 0, 0);
    readers.begin(-1);
    text.append_identity(input.data(), input.size());
    text.end_segment(input.size());
    readers.end();
    result.error = readers.error();
  }
  result.scanned_as_json = as_json;
  result.decoded_bytes = text.end();
  const auto& ri = *rules_->impl_;
  auto& cands = impl_->candidates;
  cands.clear();
  std::string_view v = text.view();
  CandidateSink sink{&ri.expressions, &cands};
  if (ri.block_db) {
    hs_error_t rc = hs_scan(ri.block_db.get(), v.data(), static_cast<unsigned>(v.size()), 0,
                            impl_->scratch.get(), collect_candidate, &sink);
    if (rc != HS_SUCCESS) [[unlikely]]
      throw_hs_error("hs_scan", rc);
  }
  collect_digit_runs(ri, v, 0, text.begin(), 0, impl_->digit_hits, cands);
  result.candidates = cands.size();
  Confirmer confirmer(ri, impl_->key, ocr);
  for (const auto& c : cands) confirmer.confirm(c, text, result.findings);
  if (impl_->known)
    confirmer.known_secrets(*impl_->known, text, 0, true, impl_->known_hits, result.findings);
  finalize(result, ri);
  // The text is kept for the thread's next scan, but one huge body must not pin its size.
  if (text.memory_bytes() > Impl::kMaxKeptScanTextBytes) text = DecodedText();
  return result;
}

// ---------------------------------------------------------------------------------------------

struct ScanStream::Impl {
  std::shared_ptr<const RuleSet> rules;
  // Shared: a stream may outlive its Scanner (a rule reload replaces a thread's scanner while a
  // request is still arriving) and keeps using its Hyperscan scratch.
  std::shared_ptr<Scanner::Impl> scanner;
  bool decided = false;
  std::string undecided;  // leading whitespace before we know text or JSON
  DecodedText text;
  std::unique_ptr<JsonTextExtractor> json;
  std::unique_ptr<TextReaders> text_readers;  // text input (JSON: the extractor has its own)
  hs_stream_t* hs = nullptr;
  uint64_t fed_to_hs = 0;
  std::vector<Candidate> pending;
  std::vector<Candidate> fresh;
  std::unique_ptr<Confirmer> confirmer;
  std::shared_ptr<const KnownSecrets> known;
  std::vector<KnownSecretMatch> known_hits;
  uint64_t known_done = 0;
  ScanResult result;
  std::string error;

  ~Impl() {
    // With no callback Hyperscan only frees the stream: nothing to check, nothing to report.
    if (hs) hs_close_stream(hs, nullptr, nullptr, nullptr);
    json.reset();  // they point into `text`
    text_readers.reset();
    auto& spares = scanner->spare_texts;
    if (spares.size() < Scanner::Impl::kSpareTexts &&
        text.memory_bytes() <= Scanner::Impl::kMaxSpareTextBytes) {
      text.reset();
      spares.push_back(std::move(text));
    }
  }

  void decide(bool as_json) {
    decided = true;
    result.scanned_as_json = as_json;
    if (as_json) {
      json = std::make_unique<JsonTextExtractor>(text);
      json->collect_attachments(scanner->attachment_limits, &result.attachments);
    } else {
      text_readers = std::make_unique<TextReaders>(text);
      text.begin_segment(SegmentKind::text, 0, 0);
      text_readers->begin(-1);
    }
  }

  bool push(std::string_view chunk) {
    if (json) {
      if (!json->feed(chunk)) {
        error = json->error();
        return false;
      }
    } else {
      text.append_identity(chunk.data(), chunk.size());
      text_readers->consume();
    }
    return true;
  }

  void scan_new_bytes() {
    std::string_view fresh_bytes = text.slice(fed_to_hs, text.end());
    if (fresh_bytes.empty()) return;
    fresh.clear();
    CandidateSink sink{&rules->impl_->expressions, &fresh};
    if (hs) {
      hs_error_t rc =
          hs_scan_stream(hs, fresh_bytes.data(), static_cast<unsigned>(fresh_bytes.size()), 0,
                         scanner->scratch.get(), collect_candidate, &sink);
      if (rc != HS_SUCCESS) [[unlikely]]
        throw_hs_error("hs_scan_stream", rc);
    }
    // The digit-run finder has no stream state: it looks again at the bytes a hit ending in the
    // new ones may start in.
    const auto& ri = *rules->impl_;
    uint64_t rescan = std::max(
        text.begin(), fed_to_hs > ri.digit_runs.reach() ? fed_to_hs - ri.digit_runs.reach() : 0);
    collect_digit_runs(ri, text.view(), rescan - text.begin(), text.begin(),
                       fed_to_hs - text.begin(), scanner->digit_hits, fresh);
    fed_to_hs = text.end();
    result.candidates += fresh.size();
    pending.insert(pending.end(), fresh.begin(), fresh.end());
  }

  void confirm_ready(bool final) {
    size_t kept = 0;
    for (const auto& c : pending) {
      if (final || c.end + confirmer->lookaround(c) <= text.end()) {
        confirmer->confirm(c, text, result.findings);
      } else {
        pending[kept++] = c;
      }
    }
    pending.resize(kept);
    if (known)
      known_done =
          confirmer->known_secrets(*known, text, known_done, final, known_hits, result.findings);
    // Keep what a pending candidate, or one still to come, may need to look at.
    uint32_t behind = rules->max_lookbehind();
    if (known) behind = std::max<uint32_t>(behind, static_cast<uint32_t>(known->max_length() + 2));
    if (text.end() - text.begin() < 2 * static_cast<uint64_t>(behind)) return;
    uint64_t keep_from = text.end() - behind;
    for (const auto& c : pending) {
      uint32_t la = confirmer->lookaround(c);
      keep_from = std::min(keep_from, c.end > la + 1 ? c.end - la - 1 : 0);
    }
    text.trim_before(keep_from);
  }
};

std::unique_ptr<ScanStream> Scanner::open_stream(InputFormat format) {
  auto impl = std::make_unique<ScanStream::Impl>();
  impl->rules = rules_;
  impl->scanner = impl_;
  if (!impl_->spare_texts.empty()) {
    impl->text = std::move(impl_->spare_texts.back());
    impl_->spare_texts.pop_back();
  }
  impl->confirmer = std::make_unique<Confirmer>(*rules_->impl_, impl_->key);
  impl->known = impl_->known;
  if (format != InputFormat::automatic) impl->decide(format == InputFormat::json);
  if (rules_->impl_->stream_db) {
    hs_error_t rc = hs_open_stream(rules_->impl_->stream_db.get(), 0, &impl->hs);
    if (rc != HS_SUCCESS) throw_hs_error("hs_open_stream", rc);
  }
  return std::unique_ptr<ScanStream>(new ScanStream(std::move(impl)));
}

ScanStream::ScanStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ScanStream::~ScanStream() = default;
const std::string& ScanStream::error() const {
  return impl_->error;
}

bool ScanStream::write(std::string_view chunk) {
  Impl& s = *impl_;
  if (!s.error.empty()) return false;
  s.result.raw_bytes += chunk.size();
  if (!s.decided) {
    // Only white space, or the start of a byte order mark, so far: wait for what follows.
    std::string joined;
    std::string_view so_far = chunk;
    if (!s.undecided.empty()) {
      joined = s.undecided;
      joined.append(chunk);
      so_far = joined;
    }
    const bool bom_start =
        so_far.size() < 3 && std::string_view("\xEF\xBB\xBF").starts_with(so_far);
    if ((first_non_space(so_far) == so_far.size() || bom_start) && so_far.size() < kMinRetained) {
      s.undecided.append(chunk);
      return true;
    }
    s.decide(looks_like_json(so_far));
    std::string head = std::move(s.undecided);
    if (!head.empty() && !s.push(head)) return false;
  }
  if (!s.push(chunk)) return false;
  s.scan_new_bytes();
  s.confirm_ready(false);
  return true;
}

ScanResult ScanStream::finish() {
  Impl& s = *impl_;
  if (!s.decided) {
    s.decide(false);
    s.push(s.undecided);
  }
  if (s.error.empty() && s.json && !s.json->finish()) s.error = s.json->error();
  if (!s.json) {
    if (!s.text.view().empty()) s.text.end_segment(s.result.raw_bytes);
    s.text_readers->end();
  }
  if (s.error.empty()) s.error = s.json ? s.json->reader_error() : s.text_readers->error();
  s.scan_new_bytes();
  if (s.hs) {
    s.fresh.clear();
    CandidateSink sink{&s.rules->impl_->expressions, &s.fresh};
    hs_error_t rc = hs_close_stream(s.hs, s.scanner->scratch.get(), collect_candidate, &sink);
    // Hyperscan has freed the stream unless it refused the call before touching it (bad
    // arguments, scratch in use); then ~Impl frees it, without a callback, which cannot fail.
    if (rc == HS_SUCCESS || rc == HS_UNKNOWN_ERROR) s.hs = nullptr;
    if (rc != HS_SUCCESS) throw_hs_error("hs_close_stream", rc);
    s.result.candidates += s.fresh.size();
    s.pending.insert(s.pending.end(), s.fresh.begin(), s.fresh.end());
  }
  s.confirm_ready(true);
  s.result.decoded_bytes = s.text.end();
  s.result.error = s.error;
  finalize(s.result, *s.rules->impl_);
  return std::move(s.result);
}

size_t ScanStream::memory_bytes() const {
  const Impl& s = *impl_;
  size_t attachments = 0;
  for (const Attachment& a : s.result.attachments) attachments += a.bytes.capacity();
  return attachments + s.text.memory_bytes() + s.rules->stream_state_bytes() +
         (s.pending.capacity() + s.fresh.capacity()) * sizeof(Candidate) + s.undecided.capacity() +
         sizeof(Impl) + s.result.findings.capacity() * sizeof(Finding);
}

}  // namespace promptgate
