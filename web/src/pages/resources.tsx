/**
 * Lists and details of every resource family, and the component editor. Each section shows its list at
 * `#/<section>` and one resource at `#/<section>/<ARN>`. Each family's pages are their own chunk, loaded when
 * first opened (lazyView.ts).
 */
import type { ComponentType } from 'react';
import { lazyView } from '../lazyView';
import type { PageProps, Section } from '../page';
import type { Session } from '../session';
import './resources.css';

type ListView = ComponentType<{ session: Session }>;
type DetailView = ComponentType<{ session: Session; arn: string }>;

/** A section whose page is the list, or the detail of the ARN in the route (keyed by it, so state starts over). */
function listAndDetail(id: string, title: string, List: ListView, Detail: DetailView): Section {
  const page = ({ session, route }: PageProps) => (route.rest ? <Detail key={route.rest} session={session} arn={route.rest} /> : <List session={session} />);
  return { id, title, nav: true, page };
}

const pipelines = () => import('./pipelines/PipelineList');
const RecipeList = lazyView(() => import('./recipes/RecipeList'), 'RecipeList');
const RecipeDetail = lazyView(() => import('./recipes/RecipeDetail'), 'RecipeDetail');
const distribution = () => import('./configs/DistributionPages');
const infrastructure = () => import('./configs/InfrastructurePages');
const lifecycle = () => import('./lifecycle/LifecyclePages');
const ComponentEditor = lazyView(() => import('./components/ComponentEditor'), 'ComponentEditor');

export const ResourcePages: Section[] = [
  listAndDetail('pipelines', 'Image pipelines', lazyView(pipelines, 'PipelineList'), lazyView(() => import('./pipelines/PipelineDetail'), 'PipelineDetail')),
  listAndDetail('images', 'Images', lazyView(() => import('./images/ImageList'), 'ImageList'), lazyView(() => import('./images/ImageDetail'), 'ImageDetail')),
  listAndDetail('image-recipes', 'Image recipes', ({ session }) => <RecipeList session={session} kind="image" />, ({ session, arn }) => <RecipeDetail session={session} kind="image" arn={arn} />),
  listAndDetail(
    'container-recipes',
    'Container recipes',
    ({ session }) => <RecipeList session={session} kind="container" />,
    ({ session, arn }) => <RecipeDetail session={session} kind="container" arn={arn} />,
  ),
  listAndDetail('components', 'Components', lazyView(() => import('./components/ComponentList'), 'ComponentList'), lazyView(() => import('./components/ComponentDetail'), 'ComponentDetail')),
  listAndDetail('infrastructure-configurations', 'Infrastructure configurations', lazyView(infrastructure, 'InfrastructureList'), lazyView(infrastructure, 'InfrastructureDetail')),
  listAndDetail('distribution-configurations', 'Distribution configurations', lazyView(distribution, 'DistributionList'), lazyView(distribution, 'DistributionDetail')),
  listAndDetail('lifecycle-policies', 'Lifecycle policies', lazyView(lifecycle, 'LifecycleList'), lazyView(lifecycle, 'LifecycleDetail')),
  { id: 'new-component', title: 'New component', nav: false, page: ({ session, route }) => <ComponentEditor key={route.rest} session={session} from={route.rest} /> },
];
