enum MappingPlaceholder {}
