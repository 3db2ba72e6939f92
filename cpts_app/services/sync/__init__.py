"""Server side of the field laptops' synchronisation: devices, their scope, their batches."""
