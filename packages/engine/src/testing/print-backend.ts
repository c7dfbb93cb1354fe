/** Test fixture: initialises the backend named by argv[2] in a fresh process and prints it as JSON. */
import { type BackendPreference, initBackend } from '../backend.js';

try {
  console.log(JSON.stringify(await initBackend(process.argv[2] as BackendPreference)));
} catch (err) {
  console.log(JSON.stringify({ error: (err as { code?: string }).code, message: (err as Error).message }));
}
