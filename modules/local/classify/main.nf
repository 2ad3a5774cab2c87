// Per-cell liver cell-type calls with a shipped model (liverannot classify).
process LIVERANNOT_CLASSIFY {
    tag "$meta.id"
    label 'process_low'

    conda "${moduleDir}/environment.yml"
    container "ghcr.io/liverannot/liverannot:0.1.0"

    input:
    tuple val(meta), path(h5ad)

    output:
    tuple val(meta), path("*.classified.h5ad"), emit: h5ad
    tuple val(meta), path("*.cells.csv")      , emit: cells
    path "versions.yml", emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args   = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    liverannot classify \
        --input ${h5ad} \
        --output ${prefix}.classified.h5ad \
        --table ${prefix}.cells.csv \
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        liverannot: \$(liverannot --version | sed 's/liverannot //')
    END_VERSIONS
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.classified.h5ad
    touch ${prefix}.cells.csv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        liverannot: \$(liverannot --version | sed 's/liverannot //')
    END_VERSIONS
    """
}
