/**
 * Kiln's routes for the web console's pages: document validation as `kiln toe validate` does it
 * (toe-validate-route.ts) and an image's recorded build plan (console-build-plan-route.ts), both signed, and the
 * configured regions (regions-route.ts), unsigned for the sign-in form.
 */
import type { FastifyInstance } from 'fastify';
import type { Store } from '../../store/store.js';
import { registerBuildPlanRoute } from './console-build-plan-route.js';
import { registerRegionsRoute } from './regions-route.js';
import type { SignedRouteAuth } from './signed-caller.js';
import { registerToeValidateRoute } from './toe-validate-route.js';

export function registerConsoleApiRoutes(app: FastifyInstance, options: SignedRouteAuth & { store: Store }): void {
  registerToeValidateRoute(app, options);
  registerBuildPlanRoute(app, options);
  registerRegionsRoute(app, options);
}
