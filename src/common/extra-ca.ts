// NODE_EXTRA_CA_CERTS, which bin/cfn-supervise keeps from this process's own node start (the bundle is parsed at
// every start: ~50 ms and ~2 MB, for TLS this process mostly never makes). The user's environment is put back as
// it was for everything the supervisor starts, and an https connection the supervisor makes itself (a webhook)
// adds those certificates to node's own roots, as node would have.
import { readFileSync } from 'node:fs';
import { builtin } from './builtin.js';

/** Where the launcher carries the variable's value past this process's start. */
const CARRIER_ENV = 'CFN_SUPERVISE_EXTRA_CA_CERTS';

let unloaded: string | undefined;
let roots: string[] | undefined;

/** Puts NODE_EXTRA_CA_CERTS back into `env` (process.env) and remembers that this process did not load it. */
export function adoptCarriedCaCerts(env: NodeJS.ProcessEnv): void {
  const carried = env[CARRIER_ENV];
  if (carried === undefined) return;
  delete env[CARRIER_ENV];
  // Set twice (a launcher inside a supervised tree, say): the variable this process was started with wins.
  if (env.NODE_EXTRA_CA_CERTS === undefined && carried !== '') {
    env.NODE_EXTRA_CA_CERTS = carried;
    unloaded = carried;
  }
}

/**
 * The trusted roots for an https connection: undefined (node's defaults) unless the launcher kept extra
 * certificates from this process's start; then node's roots and those. A file that cannot be read adds nothing,
 * as node itself only warns then; the TLS error that follows names the certificate it could not verify.
 */
export async function trustedRoots(): Promise<string[] | undefined> {
  if (unloaded === undefined) return undefined;
  if (!roots) {
    let extra: string[] = [];
    try {
      extra = [readFileSync(unloaded, 'utf8')];
    } catch {
      // See above: node's roots alone.
    }
    // node:tls only now: loading it costs every command that never makes a TLS connection ~5 ms.
    roots = [...builtin<typeof import('node:tls')>('node:tls').rootCertificates, ...extra];
  }
  return roots;
}
