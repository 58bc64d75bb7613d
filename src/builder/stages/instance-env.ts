import type { Instance } from '../../toe/instance/instance.js';

/**
 * The same instance, with `env` under every exec's own environment. The AWSTOE runner has no environment option,
 * so this is how the build hands a Dockerfile's ENV and ARG values to the components it runs, as AWS's
 * components see them inside their RUN. The wrapper owns nothing: disposing stays with the caller.
 */
export function withExecEnv(instance: Instance, env: Readonly<Record<string, string>>): Instance {
  return {
    id: instance.id,
    platform: instance.platform,
    canReboot: instance.canReboot,
    fs: instance.fs,
    exec: (argv, options = {}) => instance.exec(argv, { ...options, env: { ...env, ...options.env } }),
    putFile: (path, data, mode) => instance.putFile(path, data, mode),
    getFile: (path) => instance.getFile(path),
    reboot: (signal) => instance.reboot(signal),
  };
}
