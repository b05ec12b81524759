import { componentScenarios } from './helpers/scenarios.mjs';
import { fakeBackend } from './helpers/backends.mjs';

componentScenarios(fakeBackend());
