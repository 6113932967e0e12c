/**
 * tessera.attentionBackward on every available device against the analytic
 * float64 gradients (test/reference/attention.ts, themselves checked against
 * finite differences in attention-reference.test.ts), through the parity harness:
 * tessera's own forward (out, lse) feeds its backward, as autograd will use it.
 *
 * cpu (and cuda when present) runs every mask kind (causal, windows of each kind,
 * global tokens, block mask, ALiBi default and custom, softcap, their combination)
 * in every dtype, on GQA/MQA shapes with rows that see no key, plus larger sizes;
 * every device, emu included, runs a small subset with each mask kind and dtype once.
 */
import * as tessera from '../lib/index.js';
import { parityMatrix } from './parity/harness.js';
import { cpuBackwardCases, emuBackwardCases } from './parity/attention.js';

const fastDevices = tessera.availableDevices().filter((d) => d === 'cpu' || d.startsWith('cuda'));

parityMatrix('attentionBackward masks', cpuBackwardCases(), { devices: fastDevices });
parityMatrix('attentionBackward', emuBackwardCases());
