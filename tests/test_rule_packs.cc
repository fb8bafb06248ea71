// The shipped rule packs: breadth, and every rule's own examples (block mode, and stream mode
// split into two chunks at every offset).
#include <catch2/catch.hpp>
#include <map>

#include "detectors/rule_examples.h"
#include "tests/synthetic.h"

using namespace promptgate;

TEST_CASE("the shipped packs cover the required breadth") {
  auto rules = testing::builtin_rules();
  std::map<Category, size_t> by_category;
  for (size_t i = 0; i < rules->size(); ++i) ++by_category[rules->rule(i).category];
  INFO("rules: " << rules->size());
  CHECK(rules->size() >= 400);
  CHECK(by_category[Category::credential] >= 300);
  CHECK(by_category[Category::pii] >= 15);
  CHECK(by_category[Category::phi] >= 8);
  CHECK(by_category[Category::pci] >= 8);
}

TEST_CASE("every shipped rule has examples of both kinds") {
  auto rules = testing::builtin_rules();
  for (size_t i = 0; i < rules->size(); ++i) {
    const Rule& r = rules->rule(i);
    INFO(r.where.file << ":" << r.where.line << " " << r.id);
    CHECK(r.match_examples.size() >= 2);
    CHECK(r.no_match_examples.size() >= 2);
    CHECK_FALSE(r.description.empty());
  }
}

TEST_CASE("every shipped rule passes its own examples, whole and split at every offset") {
  Scanner scanner(testing::builtin_rules(), testing::test_key());
  ExampleReport report = check_rule_examples(scanner);
  for (const auto& f : report.failures) FAIL_CHECK(f);
  CHECK(report.examples > 2000);
  CHECK(report.passed == report.examples);
}
