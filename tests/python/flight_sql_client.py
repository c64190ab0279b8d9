"""Runs SQL through Arrow Flight SQL with ADBC's Python driver, as a data scientist's notebook would.

Usage: flight_sql_client.py grpc://HOST:PORT SQL [SQL ...]
Prints one JSON line per statement: the result as a list of row objects.
"""
import json
import sys

import adbc_driver_flightsql.dbapi as flight_sql


def main() -> None:
    uri, statements = sys.argv[1], sys.argv[2:]
    # autocommit: esmdb has no transactions, and ADBC would otherwise ask to turn them off.
    with flight_sql.connect(uri, autocommit=True) as conn:
        for sql in statements:
            with conn.cursor() as cur:
                cur.execute(sql)
                table = cur.fetch_arrow_table()
            print(json.dumps(table.to_pylist()))


if __name__ == "__main__":
    main()
