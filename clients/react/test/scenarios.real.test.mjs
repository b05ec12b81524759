// The same component scenarios as scenarios.fake.test.mjs, against a real server: fake and real cannot drift apart.
import { componentScenarios } from './helpers/scenarios.mjs';
import { realBackend } from './helpers/backends.mjs';

componentScenarios(realBackend());
