import { Component, Suspense, useEffect, useState, type ReactNode } from 'react';
import { clearSession, loadSession, type Session } from './session';
import { href, useRoute, type Route } from './router';
import { SignIn } from './pages/SignIn';
import { applyTheme, loadTheme, type Theme } from './ui/theme';
import type { PageProps } from './page';
import { SECTIONS } from './sections';

/** The console: sign-in, then a navigation bar and one view per hash route. */
export function App() {
  const [session, setSession] = useState<Session | undefined>(() => loadSession());
  const [theme, setTheme] = useState<Theme>(() => loadTheme());
  const route = useRoute();
  useEffect(() => applyTheme(theme), [theme]);

  if (!session) return <SignIn onSignedIn={setSession} />;
  const signOut = () => {
    clearSession();
    setSession(undefined);
  };
  return (
    <div className="app">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <a className="brand" href={href('pipelines')}>
          Kiln
        </a>
        <span className="muted">
          {session.region} · {session.accessKeyId}
        </span>
        <label className="theme">
          Theme
          <select value={theme} onChange={(e) => setTheme(e.target.value as Theme)}>
            <option value="system">System</option>
            <option value="light">Light</option>
            <option value="dark">Dark</option>
          </select>
        </label>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <nav aria-label="Resources" className="side">
        <ul>
          {SECTIONS.filter((s) => s.nav).map((s) => (
            <li key={s.id}>
              <a href={href(s.id)} aria-current={route.section === s.id || (route.section === '' && s.id === 'pipelines') ? 'page' : undefined}>
                {s.title}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        <View session={session} route={route} />
      </main>
    </div>
  );
}

function View({ session, route }: PageProps) {
  const section = SECTIONS.find((s) => s.id === (route.section || 'pipelines'));
  if (!section) return <p role="alert">There is no page {route.section}.</p>;
  const Page = section.page;
  return (
    <PageLoadBoundary key={section.id}>
      <Suspense fallback={<p className="muted" role="status">Loading…</p>}>
        <Page session={session} route={route satisfies Route} />
      </Suspense>
    </PageLoadBoundary>
  );
}

/**
 * A page whose code cannot be fetched (the server went away, or was updated and no longer has this build's
 * chunks) says so instead of leaving the view blank.
 */
class PageLoadBoundary extends Component<{ children: ReactNode }, { error?: unknown }> {
  override state: { error?: unknown } = {};

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  override render() {
    if (this.state.error === undefined) return this.props.children;
    return (
      <div role="alert" className="error res-error">
        This page could not be shown: {this.state.error instanceof Error ? this.state.error.message : String(this.state.error)}. Reload the console to try again.
      </div>
    );
  }
}
