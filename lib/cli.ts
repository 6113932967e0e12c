#!/usr/bin/env node
/**
 * `npx tessera info [--json]`: the backends, devices and build, as a table
 * for people or JSON for machines.
 */
import { info } from './device.js';

function table(rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n');
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

function printInfo(json: boolean): void {
  const i = info();
  if (json) {
    console.log(JSON.stringify(i, null, 2));
    return;
  }
  console.log(`tessera ${i.version}\n`);
  console.log('build');
  console.log(table([
    ['system', i.build.system],
    ['compiler', i.build.compiler],
    ['cpu kernels', i.build.cpuKernels],
    ['cuda', i.build.cuda ? `compiled for sm ${i.build.cudaArchs}` : 'not compiled'],
  ]));
  console.log('\nbackends');
  console.log(table([
    ['cpu', `available  isa=${i.cpu.isa}  threads=${i.cpu.threads}  spin=${i.cpu.spinMicros}us  features=${i.cpu.features || 'none'}`],
    ['cuda', i.cuda.available
      ? `available  runtime=${i.cuda.runtimeVersion}  driver=${i.cuda.driverVersion}`
      : `unavailable: ${i.cuda.reason ?? 'unknown reason'}`],
  ]));
  console.log('\ndevices');
  const devices: Array<[string, string]> = [['cpu', `${i.cpu.threads} threads`]];
  for (const d of i.cuda.devices) {
    devices.push([`cuda:${d.index}`, `${d.name}  sm_${d.computeCapability.replace('.', '')}  ${gib(d.totalMemory)}  ${d.multiprocessors} SMs`]);
  }
  console.log(table(devices));
}

function main(argv: string[]): number {
  const [command = 'info', ...rest] = argv;
  if (command === 'info') {
    printInfo(rest.includes('--json'));
    return 0;
  }
  if (command === '--help' || command === '-h' || command === 'help') {
    console.log('usage: tessera info [--json]');
    return 0;
  }
  console.error(`tessera: unknown command ${JSON.stringify(command)}; usage: tessera info [--json]`);
  return 2;
}

process.exitCode = main(process.argv.slice(2));
