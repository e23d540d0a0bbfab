import { lazy, Suspense } from 'react';
import { Navigate, Route, Routes } from 'react-router';
import { Shell, visibleMenus } from './Shell.tsx';
import { SignedIn, useMe } from './session.tsx';
import { SignInPage } from './SignInPage.tsx';
import { Loading } from './ui.tsx';

// Each area is its own chunk, loaded when first opened.
const ChangesPage = lazy(() => import('./changes/ChangesPage.tsx'));
const ChangePage = lazy(() => import('./changes/ChangePage.tsx'));
const RequestsPage = lazy(() => import('./requests/RequestsPage.tsx'));
const RequestPage = lazy(() => import('./requests/RequestPage.tsx'));
const AccountPage = lazy(() => import('./account/AccountPage.tsx'));
const DevicesPage = lazy(() => import('./pam/DevicesPage.tsx'));
const AccessGroupsPage = lazy(() => import('./pam/AccessGroupsPage.tsx'));
const CredentialsPage = lazy(() => import('./credentials/CredentialsPage.tsx'));
const StartSessionPage = lazy(() => import('./credentials/StartSessionPage.tsx'));
const AuditedSessionsPage = lazy(() => import('./audit/AuditedSessionsPage.tsx'));
const AuditedSessionPage = lazy(() => import('./audit/AuditedSessionPage.tsx'));
const LiveSessionsPage = lazy(() => import('./live/LiveSessionsPage.tsx'));
const WatchSessionPage = lazy(() => import('./live/WatchSessionPage.tsx'));
const AuditRulesPage = lazy(() => import('./auditing/AuditRulesPage.tsx'));
const PermalinkPage = lazy(() => import('./auditing/PermalinkPage.tsx'));
const AuditTrailPage = lazy(() => import('./trail/AuditTrailPage.tsx'));
const TrashCanPage = lazy(() => import('./trail/TrashCanPage.tsx'));
const EventLogPage = lazy(() => import('./evidence/EventLogPage.tsx'));
const UsersPage = lazy(() => import('./admin/UsersPage.tsx'));
const UserPage = lazy(() => import('./admin/UserPage.tsx'));
const GrantsPage = lazy(() => import('./admin/GrantsPage.tsx'));
const PartitionsPage = lazy(() => import('./admin/PartitionsPage.tsx'));
const WebhooksPage = lazy(() => import('./admin/WebhooksPage.tsx'));

/** The first page of the user's menus. */
function Home() {
  const first = visibleMenus(useMe())[0]?.pages[0]?.to ?? '/requests';
  return <Navigate to={first} replace />;
}

export function App() {
  return (
    <Routes>
      <Route path="/signin" element={<SignInPage />} />
      <Route
        path="*"
        element={
          <SignedIn>
            <Shell>
              <Suspense fallback={<Loading />}>
                <Routes>
                  <Route path="/" element={<Home />} />
                  <Route path="/changes" element={<ChangesPage />} />
                  <Route path="/changes/new" element={<ChangePage />} />
                  <Route path="/changes/:name" element={<ChangePage />} />
                  <Route path="/requests" element={<RequestsPage scope="mine" />} />
                  <Route path="/approvals" element={<RequestsPage scope="approvals" />} />
                  <Route path="/requests/:number" element={<RequestPage />} />
                  <Route path="/account" element={<AccountPage />} />
                  <Route path="/devices" element={<DevicesPage />} />
                  <Route path="/access-groups" element={<AccessGroupsPage />} />
                  <Route path="/credentials" element={<CredentialsPage />} />
                  <Route path="/credentials/session" element={<StartSessionPage />} />
                  <Route path="/audited-sessions" element={<AuditedSessionsPage />} />
                  <Route path="/audited-sessions/:session" element={<AuditedSessionPage />} />
                  <Route path="/live-sessions" element={<LiveSessionsPage />} />
                  <Route path="/live-sessions/:session" element={<WatchSessionPage />} />
                  <Route path="/audit-rules" element={<AuditRulesPage />} />
                  <Route path="/audit-trail" element={<AuditTrailPage />} />
                  <Route path="/trash-can" element={<TrashCanPage />} />
                  <Route path="/permalinks/:type/:key" element={<PermalinkPage />} />
                  <Route path="/event-log" element={<EventLogPage />} />
                  <Route path="/users" element={<UsersPage />} />
                  <Route path="/users/:username" element={<UserPage />} />
                  <Route path="/grants" element={<GrantsPage />} />
                  <Route path="/partitions" element={<PartitionsPage />} />
                  <Route path="/webhooks" element={<WebhooksPage />} />
                  <Route path="*" element={<NotFound />} />
                </Routes>
              </Suspense>
            </Shell>
          </SignedIn>
        }
      />
    </Routes>
  );
}

function NotFound() {
  return <Navigate to="/" replace />;
}
