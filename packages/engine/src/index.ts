/**
 * @trainyard/engine — the TensorFlow.js runtime a worker trains on: which backend
 * (native TensorFlow, wasm, cpu) this machine allows. Knows nothing of jobs.
 *
 *   const backend = await initBackend(config.TRAINYARD_BACKEND); // { name: 'wasm', version: '4.22.0', gpu: null }
 */
export { BACKEND_PREFERENCES, type BackendPreference, currentBackend, initBackend } from './backend.js';
