/** What one OpenStack service needs from the backend tier. */
export interface CatalogueEntry {
  /** Database name → the oslo.config section holding its `connection` (null: passed on the command line). */
  databases: Record<string, string | null>;
  /** Needs a RabbitMQ vhost and user (`transport_url`). */
  messaging: boolean;
  /** Uses oslo.cache / keystonemiddleware with memcached. */
  cache: boolean;
}

export const CATALOGUE: Record<string, CatalogueEntry> = {
  keystone: { databases: { keystone: 'database' }, messaging: false, cache: true },
  glance: { databases: { glance: 'database' }, messaging: false, cache: true },
  placement: { databases: { placement: 'placement_database' }, messaging: false, cache: true },
  // nova_cell0 is mapped with `nova-manage cell_v2 map_cell0 --database_connection ...`.
  nova: { databases: { nova: 'database', nova_api: 'api_database', nova_cell0: null }, messaging: true, cache: true },
  neutron: { databases: { neutron: 'database' }, messaging: true, cache: true },
  cinder: { databases: { cinder: 'database' }, messaging: true, cache: true },
  heat: { databases: { heat: 'database' }, messaging: true, cache: true },
  barbican: { databases: { barbican: 'database' }, messaging: true, cache: true },
  octavia: { databases: { octavia: 'database' }, messaging: true, cache: true },
  designate: { databases: { designate: 'storage:sqlalchemy' }, messaging: true, cache: true },
  manila: { databases: { manila: 'database' }, messaging: true, cache: true },
  ironic: { databases: { ironic: 'database' }, messaging: true, cache: true },
  aodh: { databases: { aodh: 'database' }, messaging: true, cache: true },
  magnum: { databases: { magnum: 'database' }, messaging: true, cache: true },
};
