"""Pictures for the documentation, taken of the running pipeline (`make screenshots`)."""
