// The shared transport behaviours (test/helpers/scenarios.mjs) over the poll transport, against a real server.
import { transportSuite, lifecycleSuite } from './helpers/scenarios.mjs';

transportSuite('poll');
lifecycleSuite('poll');
