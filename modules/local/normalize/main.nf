// Library-size normalization and log1p, raw counts kept (liverannot normalize).
process LIVERANNOT_NORMALIZE {
    tag "$meta.id"
    label 'process_single'

    conda "${moduleDir}/environment.yml"
    container "ghcr.io/liverannot/liverannot:0.1.0"

    input:
    tuple val(meta), path(h5ad)

    output:
    tuple val(meta), path("*.norm.h5ad"), emit: h5ad
    path "versions.yml", emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args   = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    liverannot normalize \
        --input ${h5ad} \
        --output ${prefix}.norm.h5ad \
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        liverannot: \$(liverannot --version | sed 's/liverannot //')
    END_VERSIONS
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.norm.h5ad

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        liverannot: \$(liverannot --version | sed 's/liverannot //')
    END_VERSIONS
    """
}
