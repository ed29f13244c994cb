// Kubernetes resource quantities ("500m", "2", "1.5", "128Mi", "1G",
// "1e3") held as thousandths of a unit in 64 bits: exact for every CPU
// figure and for memory up to 8 PiB (larger values saturate), which is all
// LimitRange and ResourceQuota arithmetic needs. Printed in Kubernetes'
// canonical form ("1500m", "2", "128Mi", "1k").
#ifndef BULKHEAD_COMMON_QUANTITY_H_
#define BULKHEAD_COMMON_QUANTITY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bulkhead {

struct Quantity {
  int64_t milli = 0;
  bool binary = false;  // written with Ki, Mi, ... (printed so)

  static std::optional<Quantity> Parse(std::string_view text);
  [[nodiscard]] std::string ToString() const;

  Quantity& operator+=(const Quantity& other);
  friend Quantity operator+(Quantity a, const Quantity& b) { return a += b; }
  friend Quantity operator-(Quantity a, const Quantity& b);
  friend bool operator<(const Quantity& a, const Quantity& b) { return a.milli < b.milli; }
  friend bool operator>(const Quantity& a, const Quantity& b) { return a.milli > b.milli; }
  friend bool operator<=(const Quantity& a, const Quantity& b) { return a.milli <= b.milli; }
};

}  // namespace bulkhead

#endif  // BULKHEAD_COMMON_QUANTITY_H_
