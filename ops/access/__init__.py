"""Who may do what on the bus's Kafka: SCRAM credentials and ACLs as code.

``acls`` reconciles the broker's ACLs with a wanted set and manages SCRAM credentials
through the Admin API; ``principals`` is the table of the built-in roles' principals and
the grants each needs.
"""
