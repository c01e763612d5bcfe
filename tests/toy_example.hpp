#pragma once
// A two-option toy question for tests that only need some well-formed Example.

#include "litestage/data/example.hpp"

namespace litestage::test {

inline Example toy_example(const std::string& id = "q1") {
  Example ex;
  ex.id = id;
  ex.stem = "which one";
  ex.choices = {"x", "y"};
  ex.labels = {"A", "B"};
  ex.answer = 0;
  ex.dataset = "toy";
  return ex;
}

}  // namespace litestage::test
