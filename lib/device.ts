/** Devices: 'cpu' and 'cuda' / 'cuda:N'; what this build and machine offer. */
import { fail, failRaw } from './errors.js';
import { native, type NativeInfo, type OpKind, OpKindId } from './native.js';
import { DTYPE_ID, type DType } from './dtype.js';

export type DeviceName = 'cpu' | 'emu' | 'cuda' | `cuda:${number}`;

/** A parsed device: kind 0 = cpu, 1 = cuda, 2 = emu (native/core/device.h). */
export interface DeviceSpec {
  readonly name: string; // canonical: 'cpu', 'emu' or 'cuda:N'
  readonly kind: 0 | 1 | 2;
  readonly index: number;
}

const CPU: DeviceSpec = Object.freeze({ name: 'cpu', kind: 0, index: 0 });
const EMU: DeviceSpec = Object.freeze({ name: 'emu', kind: 2, index: 0 });
let cachedInfo: NativeInfo | undefined;

/** The build and the machine: backends, devices, CPU ISA and threads. */
export function info(): NativeInfo {
  cachedInfo ??= native.info();
  return structuredClone(cachedInfo);
}

function nativeInfo(): NativeInfo {
  cachedInfo ??= native.info();
  return cachedInfo;
}

/** Parses and checks a device name; throws E_DEVICE when it is not usable here. */
export function parseDevice(value: unknown, name = 'device'): DeviceSpec {
  if (value === 'cpu') return CPU;
  if (value === 'emu') {
    const emu = nativeInfo().emu;
    if (!emu.available) failRaw('E_DEVICE', 'an available device', name, `"emu" (${emu.reason ?? 'unavailable'})`);
    return EMU;
  }
  if (typeof value === 'string') {
    const m = /^cuda(?::(\d+))?$/.exec(value);
    if (m) {
      const index = m[1] === undefined ? 0 : Number(m[1]);
      const cuda = nativeInfo().cuda;
      if (!cuda.available) {
        failRaw('E_DEVICE', 'an available device', name,
          `${JSON.stringify(value)} (CUDA is unavailable: ${cuda.reason ?? 'unknown reason'})`);
      }
      if (index >= cuda.devices.length) {
        failRaw('E_DEVICE', `a CUDA device index below ${cuda.devices.length}`, name, JSON.stringify(value));
      }
      return { name: `cuda:${index}`, kind: 1, index };
    }
  }
  return fail('E_DEVICE', "'cpu', 'emu', 'cuda' or 'cuda:N'", name, value);
}

/**
 * The best available device: TESSERA_DEVICE when set, else the first CUDA
 * device when CUDA is usable, else 'cpu'.
 * @example tessera.defaultDevice() // 'cpu' on a machine without a GPU
 */
export function defaultDevice(): string {
  const forced = process.env.TESSERA_DEVICE;
  if (forced !== undefined && forced !== '') return parseDevice(forced, 'TESSERA_DEVICE').name;
  return nativeInfo().cuda.available ? 'cuda:0' : 'cpu';
}

/** Every device usable in this process ('emu' is for tests and kernel debugging, not speed). */
export function availableDevices(): string[] {
  const devices = ['cpu'];
  if (nativeInfo().emu.available) devices.push('emu');
  const cuda = nativeInfo().cuda;
  if (cuda.available) for (const d of cuda.devices) devices.push(`cuda:${d.index}`);
  return devices;
}

/** Capability query: does the device's backend run this op on this dtype? */
export function supports(device: DeviceSpec, op: OpKind, dtype: DType): boolean {
  return native.supports(device.kind, device.index, OpKindId[op], DTYPE_ID[dtype]);
}

export function requireSupport(device: DeviceSpec, op: OpKind, dtype: DType, name: string): void {
  if (!supports(device, op, dtype)) {
    failRaw('E_UNSUPPORTED', `a dtype that ${op} supports on ${device.name}`, name, dtype);
  }
}
