/** The Python the tests of command stages run: CONNO_PYTHON, else python3, else Debian's /usr/bin/python3. */
import { spawnSync } from 'node:child_process';

/** The interpreters tried, in order. */
export const PYTHON_CANDIDATES: readonly string[] = [process.env.CONNO_PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string => !!c);

/** The first interpreter that imports every module in `modules`, or undefined. */
export function findPython(modules: readonly string[]): string | undefined {
  return PYTHON_CANDIDATES.find((py) => spawnSync(py, ['-c', `import ${modules.join(', ')}`], { stdio: 'ignore', timeout: 60_000 }).status === 0);
}
