#!/usr/bin/env node
// The `trainyard` command. Like the services, the CLI runs from its TypeScript sources:
// register tsx's loader in this process, then run src/main.ts (next to this file, wherever
// the command is called from).
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
