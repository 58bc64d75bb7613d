/**
 * Lists and details of every resource family, and the component editor. Each section shows its list at
 * `#/<section>` and one resource at `#/<section>/<ARN>`.
 */
import type { JSX } from 'react';
import type { PageProps, Section } from '../page';
import type { Session } from '../session';
import { ComponentDetail } from './components/ComponentDetail';
import { ComponentEditor } from './components/ComponentEditor';
import { ComponentList } from './components/ComponentList';
import { DistributionDetail, DistributionList } from './configs/DistributionPages';
import { InfrastructureDetail, InfrastructureList } from './configs/InfrastructurePages';
import { ImageDetail } from './images/ImageDetail';
import { ImageList } from './images/ImageList';
import { LifecycleDetail, LifecycleList } from './lifecycle/LifecyclePages';
import { PipelineDetail } from './pipelines/PipelineDetail';
import { PipelineList } from './pipelines/PipelineList';
import { RecipeDetail } from './recipes/RecipeDetail';
import { RecipeList } from './recipes/RecipeList';
import './resources.css';

type ListView = (props: { session: Session }) => JSX.Element;
type DetailView = (props: { session: Session; arn: string }) => JSX.Element;

/** A section whose page is the list, or the detail of the ARN in the route (keyed by it, so state starts over). */
function listAndDetail(id: string, title: string, List: ListView, Detail: DetailView): Section {
  const page = ({ session, route }: PageProps) => (route.rest ? <Detail key={route.rest} session={session} arn={route.rest} /> : <List session={session} />);
  return { id, title, nav: true, page };
}

export const ResourcePages: Section[] = [
  listAndDetail('pipelines', 'Image pipelines', PipelineList, PipelineDetail),
  listAndDetail('images', 'Images', ImageList, ImageDetail),
  listAndDetail('image-recipes', 'Image recipes', ({ session }) => <RecipeList session={session} kind="image" />, ({ session, arn }) => <RecipeDetail session={session} kind="image" arn={arn} />),
  listAndDetail(
    'container-recipes',
    'Container recipes',
    ({ session }) => <RecipeList session={session} kind="container" />,
    ({ session, arn }) => <RecipeDetail session={session} kind="container" arn={arn} />,
  ),
  listAndDetail('components', 'Components', ComponentList, ComponentDetail),
  listAndDetail('infrastructure-configurations', 'Infrastructure configurations', InfrastructureList, InfrastructureDetail),
  listAndDetail('distribution-configurations', 'Distribution configurations', DistributionList, DistributionDetail),
  listAndDetail('lifecycle-policies', 'Lifecycle policies', LifecycleList, LifecycleDetail),
  { id: 'new-component', title: 'New component', nav: false, page: ({ session, route }) => <ComponentEditor key={route.rest} session={session} from={route.rest} /> },
];
