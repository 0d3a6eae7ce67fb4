import { runRestore } from './restoreImpl.js';

await runRestore();
