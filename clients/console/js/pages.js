// Every page of the console in menu order, with the permission that lets the caller
// use it. The permissions come from the session (GET /v1/users/me); a page the caller
// lacks is not offered, and the services refuse its calls anyway.

import { applicationsPage } from "./pages/applications.js";
import { articlesPage } from "./pages/articles.js";
import { auditPage } from "./pages/audit.js";
import { customersPage } from "./pages/customers.js";
import { dashboardPage } from "./pages/dashboard.js";
import { feedbackPage } from "./pages/feedback.js";
import { importsPage } from "./pages/imports.js";
import { jobsPage } from "./pages/jobs.js";
import { inspectionsPage } from "./pages/inspections.js";
import { outagesPage } from "./pages/outages.js";
import { parametersPage } from "./pages/parameters.js";
import { secondFactorPage } from "./pages/secondfactor.js";
import { usersPage } from "./pages/users.js";

export const PAGES = [
  dashboardPage,
  feedbackPage,
  applicationsPage,
  outagesPage,
  inspectionsPage,
  articlesPage,
  customersPage,
  usersPage,
  importsPage,
  jobsPage,
  parametersPage,
  auditPage,
  secondFactorPage,
];

/** Whether `caller` holds `permission` (patterns ending in "*" included); an empty
 *  permission is any signed-in caller. */
export function allowed(caller, permission) {
  if (!caller) return false;
  if (!permission) return true;
  return (caller.permissions || []).some(
    (held) => held === permission || (held.endsWith("*") && permission.startsWith(held.slice(0, -1))),
  );
}
