// The process entry point: `node dist/cli/bin.js` in production (compiled by `npm run build`), or through tsx
// from bin/portcullis.js in a checkout.
import { main } from './index.ts';

process.exitCode = await main(process.argv.slice(2));
