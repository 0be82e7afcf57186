"""The local no-Docker stack: Apache Kafka, FerretDB and Mailpit started as plain processes."""
