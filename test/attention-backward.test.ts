/**
 * tessera.attentionBackward on every available device against the analytic
 * float64 gradients (test/reference/attention.ts, themselves checked against
 * finite differences in attention-reference.test.ts), through the parity harness.
 *
 * 'attentionBackward masks': every mask kind (causal, windows of each kind, global
 * tokens, block mask, ALiBi default and custom, softcap, their combination) in
 * every dtype, on GQA/MQA shapes with rows that see no key, plus larger sizes and
 * two cases that chain the device's own forward. The emulator runs it too (the
 * CUDA backward takes well under a second a case there). 'attentionBackward': four
 * more small cases, each mask kind and dtype once.
 */
import { parityMatrix } from './parity/harness.js';
import { cpuBackwardCases, emuBackwardCases } from './parity/attention.js';

parityMatrix('attentionBackward masks', cpuBackwardCases());
parityMatrix('attentionBackward', emuBackwardCases());
