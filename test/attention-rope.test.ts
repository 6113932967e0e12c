/**
 * tessera.rope on every available device against the rotation formula
 * (test/reference/attention.ts): both layouts, offset, shared and per-sequence
 * positions, base, linear and NTK scaling, fp32 / fp16 / bf16. The emulator gets
 * the small subset.
 */
import * as tessera from '../lib/index.js';
import { parityMatrix } from './parity/harness.js';
import { ropeCases } from './parity/attention.js';

const devices = tessera.availableDevices();
const fastDevices = devices.filter((d) => d === 'cpu' || d.startsWith('cuda'));
const slowDevices = devices.filter((d) => !fastDevices.includes(d));

parityMatrix('rope', ropeCases(), { devices: fastDevices });
if (slowDevices.length > 0) parityMatrix('rope small', ropeCases(true), { devices: slowDevices });
