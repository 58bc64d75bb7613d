import { assert } from './assert.js';
import { executeBash } from './execute-bash.js';
import { executeBinary } from './execute-binary.js';
import { executeDocument } from './execute-document.js';
import { reboot } from './reboot.js';
import type { ActionModule } from './types.js';

/** The modules that run processes, evaluate expressions, nest documents or reboot. */
export const coreModules: ActionModule[] = [executeBash, executeBinary, executeDocument, assert, reboot];
