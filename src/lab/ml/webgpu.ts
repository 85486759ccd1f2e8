/**
 * WebGPU for TensorFlow.js in Node, through Dawn (the optional `webgpu` npm package, which ships a
 * prebuilt dawn.node). Dawn is asked for an adapter on its default backend first (Vulkan: a real
 * GPU), then on OpenGL ES (which Mesa's llvmpipe provides on a machine without a GPU: slow, but
 * the same code path, and what CI tests). `CONNO_WEBGPU_FLAGS` (e.g. `backend=vulkan`) names the
 * one Dawn setting to try instead. With no adapter at all the backend fails, saying what was
 * tried: it never falls back to another backend. The adapter's description is part of the
 * fingerprint of every stage that runs on it (different hardware and drivers round differently).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConnoError } from '../../core/util/errors.js';

/** The little of the WebGPU API this module touches (the full types come with the package). */
interface Adapter {
  info?: { description?: string; device?: string; vendor?: string };
}
interface Gpu {
  requestAdapter(options?: { featureLevel?: string }): Promise<Adapter | null>;
  getPreferredCanvasFormat?(): string;
  wgslLanguageFeatures?: unknown;
}
interface WebGpuModule {
  create(flags: string[]): Gpu;
  globals: object;
}

export interface WebGpuAdapter {
  gpu: Gpu;
  adapter: Adapter;
  /** e.g. `llvmpipe-llvm-15-0-6-256-bits (OpenGL version OpenGL ES 3.2 Mesa 22.3.6; backend=opengles, compatibility)`. */
  description: string;
}

/** Dawn settings tried in order: its default (Vulkan), then OpenGL ES. */
const ATTEMPTS: readonly (readonly string[])[] = [[], ['backend=opengles']];

function attempts(): (readonly string[])[] {
  const forced = process.env['CONNO_WEBGPU_FLAGS'];
  return forced === undefined ? [...ATTEMPTS] : [forced.split(',').map((s) => s.trim()).filter(Boolean)];
}

// conno:package webgpu (optional: Dawn, imported by loadDawn when installed)
async function loadDawn(): Promise<WebGpuModule> {
  const specifier = 'webgpu';
  try {
    return (await import(specifier)) as WebGpuModule;
  } catch (err) {
    throw new ConnoError(
      `backend 'webgpu' needs the npm package webgpu (0.6.2, an optional dependency of conno: Dawn for Node), which could not be loaded: ${(err as Error).message.split('\n')[0]}`,
      { hint: "install it with `npm install webgpu@0.6.2`, or use backend: wasm" },
    );
  }
}

/** The first adapter Dawn gives, with what found it; a ConnoError naming every attempt if none. */
export async function openWebGpu(): Promise<WebGpuAdapter> {
  const dawn = await loadDawn();
  Object.assign(globalThis, dawn.globals);
  // Dawn's OpenGL ES backend through EGL without a display (Mesa: llvmpipe).
  process.env['EGL_PLATFORM'] ??= 'surfaceless';
  const tried: string[] = [];
  for (const flags of attempts()) {
    const gpu = dawn.create([...flags]);
    for (const featureLevel of ['core', 'compatibility']) {
      const adapter = await gpu.requestAdapter({ featureLevel });
      const how = `${flags.join(' ') || 'default backend'}, ${featureLevel}`;
      tried.push(how);
      if (adapter) {
        const info = adapter.info ?? {};
        const device = info.device?.replace(/-+$/, '');
        const name = device && info.description ? `${device} (${info.description})` : device || info.description || 'unnamed adapter';
        return { gpu, adapter, description: `${name}; ${how}` };
      }
    }
  }
  throw new ConnoError(`backend 'webgpu': Dawn found no WebGPU adapter (tried: ${tried.join('; ')})`, {
    hint: 'a GPU needs its Vulkan driver; without a GPU, Mesa (libegl-mesa0, libgles2) lets Dawn run on OpenGL ES. Or use backend: wasm.',
  });
}

/**
 * Makes `navigator.gpu` hand TensorFlow.js this adapter (tfjs-backend-webgpu asks for one itself,
 * without the feature level an OpenGL ES adapter needs).
 */
export function exposeAdapter(a: WebGpuAdapter): void {
  const gpu: Gpu = {
    requestAdapter: () => Promise.resolve(a.adapter),
    getPreferredCanvasFormat: () => 'rgba8unorm',
    wgslLanguageFeatures: a.gpu.wgslLanguageFeatures,
  };
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
}

let described: string | undefined;

/**
 * The adapter this machine gives, for fingerprints: found once per process by a child process
 * (fingerprints are taken synchronously, and Dawn should not start in the process that only asks).
 * `none: …` when there is none (the stage then fails when it runs, saying so).
 */
export function webgpuAdapterName(): string {
  if (described !== undefined) return described;
  const probe = path.join(path.dirname(fileURLToPath(import.meta.url)), 'webgpu.js');
  const r = spawnSync(process.execPath, [probe], { encoding: 'utf8', timeout: 60_000, env: process.env });
  const line = r.stdout?.trim().split('\n').pop() ?? '';
  described = r.status === 0 && line.startsWith('adapter: ') ? line.slice('adapter: '.length) : `none: ${(r.stderr || line || `probe exited ${r.status}`).trim().split('\n').pop()}`;
  return described;
}

// `node webgpu.js`: print the adapter (the probe webgpuAdapterName runs).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  openWebGpu().then(
    (a) => {
      process.stdout.write(`adapter: ${a.description}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
