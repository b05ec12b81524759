// The shared transport behaviours (test/helpers/scenarios.mjs) over the sse transport, against a real server.
import { transportSuite, lifecycleSuite } from './helpers/scenarios.mjs';

transportSuite('sse');
lifecycleSuite('sse');
