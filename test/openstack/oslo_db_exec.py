"""Runs SQL statements through oslo.db's enginefacade, configured only from an osb oslo ini.

Usage: /usr/bin/python3 oslo_db_exec.py CONFIG_FILE SQL [SQL ...]

One writer transaction (what a service's API request does); prints one JSON line with the rows
of the last statement that returned rows. Exit 1 with the error on stderr when anything fails.
"""
import configparser
import json
import sys

from oslo_config import cfg
from oslo_db import options
from oslo_db.sqlalchemy import enginefacade
import sqlalchemy as sa


@enginefacade.transaction_context_provider
class Context:
    pass


def main():
    conf_file, statements = sys.argv[1], sys.argv[2:]
    options.set_defaults(cfg.CONF)  # registers [database], as a service does before parsing
    cfg.CONF(['--config-file', conf_file], project='osb-backup-test')
    # A service whose main database lives in another section (placement: [placement_database])
    # uses that section's connection, as the service itself would.
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(conf_file)
    if not parser.has_option('database', 'connection'):
        section = next(s for s in parser.sections() if parser.has_option(s, 'connection'))
        cfg.CONF.set_override('connection', parser.get(section, 'connection'), group='database')
    rows = []
    with enginefacade.writer.using(Context()) as session:
        for sql in statements:
            result = session.execute(sa.text(sql))
            if result.returns_rows:
                rows = [[str(v) for v in r] for r in result]
    print(json.dumps({'rows': rows}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
