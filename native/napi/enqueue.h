// Queues a kernel on the device of its outputs: the stream holds a reference to
// every input and output storage until the kernel has run, and a failure poisons
// the outputs (runtime.h). Used by every op binding.
#pragma once

#include <initializer_list>
#include <vector>

#include "args.h"
#include "runtime.h"

namespace tessera::napi {

template <typename Params>
void enqueueOps(Napi::Env env, const std::vector<const ViewArg*>& inputs, const std::vector<const ViewArg*>& outputs,
                Params params, void (Backend::*method)(const Params&)) {
  const Device d = outputs.front()->storage->device();
  std::vector<StoragePtr> in, out;
  for (const auto* group : {&inputs, &outputs}) {
    for (const ViewArg* v : *group) {
      if (!(v->storage->device() == d)) {
        throwJs(env, ErrorCode::kInternal, "tessera internal error: operands on different devices");
      }
      (group == &inputs ? in : out).push_back(v->storage);
    }
  }
  Runtime::get(env).submit(d, std::move(in), std::move(out), [params, method](Backend& b) { (b.*method)(params); });
}

template <typename Params>
void enqueueOp(Napi::Env env, std::initializer_list<const ViewArg*> inputs, const ViewArg& out, Params params,
               void (Backend::*method)(const Params&)) {
  enqueueOps(env, std::vector<const ViewArg*>(inputs), {&out}, params, method);
}

}  // namespace tessera::napi
