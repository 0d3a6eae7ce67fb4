import { runSave } from './saveImpl.js';

await runSave();
