"""The PostgreSQL store: the driver (imported only for a PostgreSQL URL), the schema, the thread index and the store."""
