"""careflow's pure domain model: standard library only.

Everything here is plain data and pure functions: the health system's master data
(sites, resources, calendars, services and their preference cards, stock, patients,
authorizations), bookings and their lifecycle, the dependency checks that explain every
refusal, and the commands and events that cross the layer boundary.
"""
