// What a kernel sees of a tensor: a typed pointer, a shape and element strides.
// Kernels never see JS values or storage ownership; the stream keeps storage alive.
#pragma once

#include <cstdint>

#include "dtype.h"

namespace tessera {

constexpr int kMaxDims = 8;

struct TensorView {
  void* data = nullptr;  // element 0 of the view (storage base + offset)
  DType dtype = DType::kFloat32;
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};  // in elements; 0 on a broadcast axis

  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= shape[i];
    return n;
  }

  bool isContiguous() const {
    int64_t expect = 1;
    for (int i = ndim - 1; i >= 0; --i) {
      if (shape[i] != 1 && strides[i] != expect) return false;
      expect *= shape[i];
    }
    return true;
  }

  template <typename T>
  T* as() const { return static_cast<T*>(data); }
};

}  // namespace tessera
