import { fileURLToPath } from 'node:url';
import { buildDistIfStale } from '../../shared/build-dist.ts';

export default function setup(): Promise<void> {
  return buildDistIfStale(fileURLToPath(new URL('..', import.meta.url)));
}
