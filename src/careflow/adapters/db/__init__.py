"""The database adapter: SQLAlchemy Core tables, Alembic migrations, the SQL unit of work
and stores that implement ``careflow.services.ports``, and the bulk loader.

    engine = make_engine("sqlite:///careflow.db")   # or postgresql://...
    migrate("sqlite:///careflow.db")
    load_health_system(engine, hs, replace=True)
    uow = SqlUnitOfWorkFactory(engine, clock)
"""

from careflow.adapters.db.engine import make_engine
from careflow.adapters.db.loader import load_health_system, wipe
from careflow.adapters.db.master_writes import SqlMasterWriter, bump_master_version
from careflow.adapters.db.migrator import migrate
from careflow.adapters.db.uow import SqlUnitOfWork, SqlUnitOfWorkFactory

__all__ = [
    "SqlMasterWriter",
    "SqlUnitOfWork",
    "SqlUnitOfWorkFactory",
    "bump_master_version",
    "load_health_system",
    "make_engine",
    "migrate",
    "wipe",
]
