// Label selectors (a=b, a==b, a!=b, a in (x,y), a notin (x), a, !a) and
// field selectors (path=value, path==value, path!=value, where path is a
// dotted field path such as metadata.name or status.phase).
#ifndef BULKHEAD_CONTROLPLANE_APISERVER_SELECTORS_H_
#define BULKHEAD_CONTROLPLANE_APISERVER_SELECTORS_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "common/status.h"

namespace bulkhead::controlplane {

class LabelSelector {
 public:
  // INVALID_ARGUMENT with the reason when `text` does not parse.
  static StatusOr<LabelSelector> Parse(std::string_view text);
  [[nodiscard]] bool Matches(const boost::json::object& object) const;
  [[nodiscard]] bool empty() const { return requirements_.empty(); }

 private:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kNotExists };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };
  std::vector<Requirement> requirements_;
};

class FieldSelector {
 public:
  static StatusOr<FieldSelector> Parse(std::string_view text);
  [[nodiscard]] bool Matches(const boost::json::object& object) const;
  [[nodiscard]] bool empty() const { return terms_.empty(); }
  // The value required for `field` by an '=' term, if there is one.
  [[nodiscard]] const std::string* Required(std::string_view field) const;

 private:
  struct Term {
    std::string field;
    bool equals;
    std::string value;
  };
  std::vector<Term> terms_;
};

// The labelSelector and fieldSelector of one request (either may be absent).
// Whether `labels` match a metav1.LabelSelector object (matchLabels and
// matchExpressions: In, NotIn, Exists, DoesNotExist). A missing or null
// selector matches everything; a malformed one matches nothing.
bool MatchesLabelSelector(const boost::json::value* selector, const boost::json::object& labels);

struct QuerySelectors {
  LabelSelector labels;
  FieldSelector fields;

  // INVALID_ARGUMENT with the reason when either does not parse.
  static StatusOr<QuerySelectors> Parse(std::optional<std::string_view> label_text,
                                        std::optional<std::string_view> field_text);
  [[nodiscard]] bool empty() const { return labels.empty() && fields.empty(); }
  [[nodiscard]] bool Matches(const boost::json::object& object) const {
    return labels.Matches(object) && fields.Matches(object);
  }
};

// The value at a dotted path as field selectors compare it: strings as is,
// numbers and booleans as text, missing as "".
std::string FieldValue(const boost::json::object& object, std::string_view path);

}  // namespace bulkhead::controlplane

#endif  // BULKHEAD_CONTROLPLANE_APISERVER_SELECTORS_H_
