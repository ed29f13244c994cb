#include "controlplane/apiserver/selectors.h"

#include <algorithm>
#include <boost/json.hpp>

#include "common/strings.h"
#include "fmt/format.h"

namespace bulkhead::controlplane {
namespace {

namespace json = boost::json;

const json::object* Labels(const json::object& object) {
  const auto* metadata = object.if_contains("metadata");
  if (metadata == nullptr || !metadata->is_object()) {
    return nullptr;
  }
  const auto* labels = metadata->as_object().if_contains("labels");
  return labels != nullptr && labels->is_object() ? &labels->as_object() : nullptr;
}

// Splits on commas that are not inside parentheses.
std::vector<std::string_view> SplitTerms(std::string_view text) {
  std::vector<std::string_view> terms;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || (text[i] == ',' && depth == 0)) {
      auto term = TrimSpace(text.substr(start, i - start));
      if (!term.empty()) {
        terms.push_back(term);
      }
      start = i + 1;
    } else if (text[i] == '(') {
      ++depth;
    } else if (text[i] == ')') {
      --depth;
    }
  }
  return terms;
}

Status InvalidSelector(std::string_view text, std::string_view why) {
  return absl::InvalidArgumentError(
      fmt::format("unable to parse requirement: \"{}\": {}", text, why));
}

}  // namespace

StatusOr<LabelSelector> LabelSelector::Parse(std::string_view text) {
  LabelSelector selector;
  for (std::string_view term : SplitTerms(text)) {
    Requirement req;
    if (term.front() == '!') {
      req.key = std::string(TrimSpace(term.substr(1)));
      req.op = Op::kNotExists;
    } else if (size_t pos = term.find("!="); pos != std::string_view::npos) {
      req.key = std::string(TrimSpace(term.substr(0, pos)));
      req.op = Op::kNotEquals;
      req.values.emplace_back(TrimSpace(term.substr(pos + 2)));
    } else if (size_t eq = term.find('='); eq != std::string_view::npos) {
      req.key = std::string(TrimSpace(term.substr(0, eq)));
      req.op = Op::kEquals;
      std::string_view value = term.substr(eq + 1);
      if (!value.empty() && value.front() == '=') {
        value.remove_prefix(1);
      }
      req.values.emplace_back(TrimSpace(value));
    } else if (size_t paren = term.find('('); paren != std::string_view::npos) {
      std::string_view head = TrimSpace(term.substr(0, paren));
      size_t space = head.find_last_of(" \t");
      if (space == std::string_view::npos || term.back() != ')') {
        return InvalidSelector(term, "expected 'key in (values)' or 'key notin (values)'");
      }
      std::string_view op = head.substr(space + 1);
      req.key = std::string(TrimSpace(head.substr(0, space)));
      if (op == "in") {
        req.op = Op::kIn;
      } else if (op == "notin") {
        req.op = Op::kNotIn;
      } else {
        return InvalidSelector(term, fmt::format("unknown operator \"{}\"", op));
      }
      for (auto value : SplitNonEmpty(term.substr(paren + 1, term.size() - paren - 2), ",")) {
        req.values.emplace_back(TrimSpace(value));
      }
    } else {
      req.key = std::string(term);
      req.op = Op::kExists;
    }
    if (req.key.empty() || req.key.find_first_of(" \t()") != std::string::npos) {
      return InvalidSelector(term, "invalid label key");
    }
    selector.requirements_.push_back(std::move(req));
  }
  return selector;
}

bool LabelSelector::Matches(const json::object& object) const {
  const json::object* labels = Labels(object);
  for (const auto& req : requirements_) {
    const json::value* value = labels != nullptr ? labels->if_contains(req.key) : nullptr;
    std::string text =
        value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
    bool has = value != nullptr;
    bool in_values =
        has && std::find(req.values.begin(), req.values.end(), text) != req.values.end();
    switch (req.op) {
      case Op::kEquals:
      case Op::kIn:
        if (!in_values) {
          return false;
        }
        break;
      case Op::kNotEquals:
      case Op::kNotIn:
        if (in_values) {
          return false;
        }
        break;
      case Op::kExists:
        if (!has) {
          return false;
        }
        break;
      case Op::kNotExists:
        if (has) {
          return false;
        }
        break;
    }
  }
  return true;
}

StatusOr<FieldSelector> FieldSelector::Parse(std::string_view text) {
  FieldSelector selector;
  for (std::string_view term : SplitTerms(text)) {
    Term parsed;
    if (size_t pos = term.find("!="); pos != std::string_view::npos) {
      parsed.field = std::string(TrimSpace(term.substr(0, pos)));
      parsed.equals = false;
      parsed.value = std::string(TrimSpace(term.substr(pos + 2)));
    } else if (size_t eq = term.find('='); eq != std::string_view::npos) {
      parsed.field = std::string(TrimSpace(term.substr(0, eq)));
      parsed.equals = true;
      std::string_view value = term.substr(eq + 1);
      if (!value.empty() && value.front() == '=') {
        value.remove_prefix(1);
      }
      parsed.value = std::string(TrimSpace(value));
    } else {
      return InvalidSelector(term, "field selectors need '=', '==' or '!='");
    }
    if (parsed.field.empty()) {
      return InvalidSelector(term, "empty field");
    }
    selector.terms_.push_back(std::move(parsed));
  }
  return selector;
}

bool FieldSelector::Matches(const json::object& object) const {
  return std::all_of(terms_.begin(), terms_.end(), [&object](const Term& term) {
    return (FieldValue(object, term.field) == term.value) == term.equals;
  });
}

const std::string* FieldSelector::Required(std::string_view field) const {
  for (const auto& term : terms_) {
    if (term.equals && term.field == field) {
      return &term.value;
    }
  }
  return nullptr;
}

std::string FieldValue(const json::object& object, std::string_view path) {
  const json::value* current = nullptr;
  const json::object* parent = &object;
  for (auto part : SplitNonEmpty(path, ".")) {
    if (parent == nullptr) {
      return "";
    }
    current = parent->if_contains(json::string_view(part.data(), part.size()));
    if (current == nullptr) {
      return "";
    }
    parent = current->is_object() ? &current->as_object() : nullptr;
  }
  if (current == nullptr) {
    return "";
  }
  if (current->is_string()) {
    return std::string(current->as_string());
  }
  if (current->is_null()) {
    return "";
  }
  return json::serialize(*current);
}

StatusOr<QuerySelectors> QuerySelectors::Parse(std::optional<std::string_view> label_text,
                                               std::optional<std::string_view> field_text) {
  QuerySelectors selectors;
  if (label_text.has_value()) {
    BH_ASSIGN_OR_RETURN(selectors.labels, LabelSelector::Parse(*label_text));
  }
  if (field_text.has_value()) {
    BH_ASSIGN_OR_RETURN(selectors.fields, FieldSelector::Parse(*field_text));
  }
  return selectors;
}

namespace {

std::string StringOf(const boost::json::object& object, const char* key) {
  const boost::json::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
}

bool HasValue(const boost::json::array& values, const boost::json::value* label) {
  if (label == nullptr || !label->is_string()) {
    return false;
  }
  for (const auto& value : values) {
    if (value == *label) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool MatchesLabelSelector(const boost::json::value* selector, const boost::json::object& labels) {
  if (selector == nullptr || selector->is_null()) {
    return true;
  }
  if (!selector->is_object()) {
    return false;
  }
  const boost::json::object& s = selector->as_object();
  if (const boost::json::value* match = s.if_contains("matchLabels"); match != nullptr) {
    if (!match->is_object()) {
      return false;
    }
    for (const auto& [key, value] : match->as_object()) {
      const boost::json::value* label = labels.if_contains(key);
      if (label == nullptr || *label != value) {
        return false;
      }
    }
  }
  if (const boost::json::value* expressions = s.if_contains("matchExpressions");
      expressions != nullptr) {
    if (!expressions->is_array()) {
      return false;
    }
    for (const auto& expression : expressions->as_array()) {
      if (!expression.is_object()) {
        return false;
      }
      const boost::json::object& e = expression.as_object();
      std::string key = StringOf(e, "key");
      std::string op = StringOf(e, "operator");
      const boost::json::value* values = e.if_contains("values");
      const boost::json::array empty;
      const boost::json::array& list =
          values != nullptr && values->is_array() ? values->as_array() : empty;
      const boost::json::value* label = labels.if_contains(key);
      if ((op == "In" && !HasValue(list, label)) || (op == "NotIn" && HasValue(list, label)) ||
          (op == "Exists" && label == nullptr) || (op == "DoesNotExist" && label != nullptr)) {
        return false;
      }
      if (op != "In" && op != "NotIn" && op != "Exists" && op != "DoesNotExist") {
        return false;
      }
    }
  }
  return true;
}

}  // namespace bulkhead::controlplane
