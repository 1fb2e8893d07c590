"""The data-product catalog: every topic, table, endpoint and report of the bus as a product
with owner, classification, terms, ports and grants (``products``), resolved against the bus
(``build``), turned into Kafka ACLs (``grants``) and exported as DCAT-AP (``dcat``);
``cultuurbus catalog`` (``cli``)."""
